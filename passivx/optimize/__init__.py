"""Jackrabbit, the optimizer (seed 000): `passivx optimize SETTINGS.hjson` (or `passivx backtest
SETTINGS.hjson` without `--config`) searches live configs within the settings' `ranges` for the best
`objective` that meets the `constraints`, backtesting candidates in parallel on local worker processes or
a Dask cluster, resumably.

Modules: `space` (ranges, mutation schedule), `search` (the algorithm, made parallel without changing its
answer), `start` (mode, base config, candidate 0), `evaluate` (the worker side: data opened once),
`backends` (local pool, Dask), `journal` (run.json, results.jsonl), `output` (the folder, plot, terminal
tables), `run` (`run_optimizer`: options to output folder). Nothing here imports `passivx.live`.
"""
