"""Market data: archive/REST downloaders, file importers, the memory-mapped day cache with its
manifest and checks, 1-minute candles, and the seeded synthetic default data set.

The backtester uses `passivx.data.cache.open_days` and `passivx.data.synthetic.ensure_default_data`."""
