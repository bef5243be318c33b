"""Errors a user can fix. Each is shown as one line by the CLI, never as a traceback."""


class PassivxError(Exception):
    """Base class of every user-facing error."""


class ConfigError(PassivxError):
    """A live config or backtest settings file is missing, malformed or out of range."""


class MarketError(PassivxError):
    """A market spec is missing or invalid (unknown symbol, bad steps)."""


class DataError(PassivxError):
    """Trade/candle data is missing, malformed or corrupted."""


class ExchangeError(PassivxError):
    """The exchange (or the simulated one) refused or failed a request."""


class AuthError(PassivxError):
    """API key file missing, malformed, or with unsafe permissions."""
