"""passivx: a market-making grid bot for crypto perpetual futures."""
__version__ = "0.1.0"
