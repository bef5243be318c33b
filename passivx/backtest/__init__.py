"""The backtester: cached trades (or 1-minute candles) replayed through the calculator's
`ideal_orders`, with the rules below (STRATEGY.md §4). `runner.run_backtest` runs one backtest,
`report.write_results` writes its folder; the jitted replay is `engine.replay`.

What the simulated bot sees and does
- It sees only the past. Best bid / ask are the last taker-sell / taker-buy prices (candles: the close).
  The classic tick EMA moves on every trade whose price differs from the previous one (seeded with the
  first price; on candles, with each close); the modes' band EMAs move once a minute, at the minute's
  end, with that minute's close (minutes without trades repeat the last close). Funding: an optional
  series (settings `funding`) is settled at its timestamps (longs pay rate x notional at the last price,
  shorts receive it) and its next rate is the predicted funding; none given means zero, and stats.json
  says so.
- Pace: the bot recomputes its orders after every trade, but at most once per `PACE_MS` (1 s of exchange
  time) after its previous recomputation, and at once after a fill; timers coming due (clock, timed
  auto-unstuck), minute boundaries and funding also trigger it, at that moment if the pace allows. On
  candles a candle closes its minute, so the recomputation after it already has that minute's band EMA
  update (one per candle). The live engine is meant to keep the same pace.
- Latency: a recomputation's orders reach the exchange `latency_simulation_ms` later. Until then the
  orders of earlier recomputations rest (an order kept unchanged rests throughout); a fill the bot did not
  know of when it decided removes that order from what it decided.

Fills
- A resting bid fills when a trade prints strictly below its price, an ask strictly above; at the order
  price, maker fee. A trade through several orders fills all of them (a sweep), nearest price first. A
  classic market stop loss fills at the next trade's price, taker fee. Fills are whole orders
  (the original classic backtester allowed one fill per trade and tested only the nearest take-profit).
- Reduce-only orders never exceed the position; the classic strategy is one-way (an opposite entry
  reduces or flips the position), the modes hedge (a long and a short side).
- Candles: each is tested at the end of its minute against the orders resting then: bids above its low
  fill, asks below its high, in the likely path's order (open-low-high-close when it closed up).
- Liquidation: when a trade (candle extreme) reaches the liquidation price (cross margin, both sides,
  `calc.contracts.liquidation_price`), everything is closed there with the taker fee, the run is flagged
  `liquidated`, and the replay stops (the rest of the period counts as flat).

The engine calls `ideal_orders` only when its answer can differ from the resting orders
(`bounds`), and queues no recomputation whose orders the book provably holds already;
`exhaustive=True` recomputes at every decision instead, and the tests check both give the same fills on
real data.
"""
