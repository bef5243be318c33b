"""Pure numba-jitted strategy math: no I/O, no exchange names, no clocks.

Entry point: `passivx.calc.entry.ideal_orders(cfg, mkt, st, whole_grid, out, memo) -> n`.
Vector layouts are in `passivx.calc.layout`.
"""
