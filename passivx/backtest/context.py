"""The arrays one replay works on, allocated once (`new_context`), and the calls that drive the jitted
loop over them (`Context.trades`, `Context.candles`, `Context.finish`)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from passivx.calc import layout as L
from passivx.calc.ema import band_alphas, ema_alpha
from passivx.calc.unstuck import au_delay_ms
from passivx.backtest import engine
from passivx.backtest import layout as B

_NO_SIDES = np.zeros(0, dtype=np.int8)


@dataclass
class Context:
    w: np.ndarray
    ring: np.ndarray
    out: np.ndarray
    bk: np.ndarray
    rf: np.ndarray
    fills: np.ndarray
    smp: np.ndarray
    fts: np.ndarray
    frate: np.ndarray
    flushed: list = field(default_factory=list)

    def _tail(self) -> tuple:
        return self.w, self.ring, self.out, self.bk, self.rf, self.fills, self.smp, self.fts, self.frate

    def trades(self, ts: np.ndarray, price: np.ndarray, side: np.ndarray) -> int:
        """Replay one chunk of trades until its end or a liquidation; returns the rows replayed."""
        return self._run(False, ts, price, price, price, price, side)

    def candles(self, ts, opens, highs, lows, closes) -> int:
        """Replay one chunk of 1-minute candles until its end or a liquidation; returns the rows replayed."""
        return self._run(True, ts, opens, highs, lows, closes, _NO_SIDES)

    def _run(self, candles: bool, ts, a, b, c, d, side) -> int:
        i = 0
        while i < len(ts):
            i = engine.replay(candles, ts, a, b, c, d, side, i, *self._tail())
            n = int(self.w[B.E_N_FBUF])
            if n:
                self.flushed.append(self.fills[:n].copy())
                self.w[B.E_N_FBUF] = 0
            if self.w[B.E_ERROR]:
                raise RuntimeError("backtest engine: decision queue overflow (latency too long for the pace)")
            if self.stopped:
                break
        return i

    def finish(self, end_t: float = -math.inf) -> None:
        """Close the replay; `end_t`: when the data ends (a liquidated replay stops before)."""
        engine.finish(self.w, self.smp, end_t)

    @property
    def stopped(self) -> bool:
        return bool(self.w[B.E_LIQUIDATED])

    @property
    def st(self) -> np.ndarray:
        return self.w[B.W_ST:B.W_ST + L.ST_SIZE]

    def fill_rows(self) -> np.ndarray:
        return np.concatenate(self.flushed) if self.flushed else np.zeros((0, B.F_W))

    def samples(self) -> np.ndarray:
        return self.smp[: int(self.w[B.E_N_SAMPLES])].copy()


def new_context(cfg: np.ndarray, mkt: np.ndarray, starting_balance: float, latency_ms: float,
                span_ms: float, funding: tuple[np.ndarray, np.ndarray] | None = None,
                exhaustive: bool = False, n_samples: int = 4000, reuse: Context | None = None) -> Context:
    """Arrays for one replay of `span_ms` of data: state at `starting_balance`, flat, no fills yet.

    `funding`: (settlement times ms, rates) or None; `n_samples`: about how many curve samples to keep
    (one per whole minute at most); `exhaustive`: compute the orders at every decision (reference mode);
    `reuse`: a context whose replay is over and whose results were read: its buffers serve this one."""
    w = np.zeros(B.W_SIZE)
    w[B.W_CFG:B.W_CFG + L.CFG_SIZE] = cfg
    w[B.W_MKT:B.W_MKT + L.MKT_SIZE] = mkt
    st = w[B.W_ST:B.W_ST + L.ST_SIZE]
    st[L.S_BALANCE] = starting_balance
    st[L.S_LONG_LAST_ENTRY_MS:L.S_SHORT_LAST_UNSTUCK_MS + 1] = -math.inf
    w[B.E_UB], w[B.E_LB] = -math.inf, math.inf
    w[B.E_HB], w[B.E_LA] = -math.inf, math.inf
    for key in (B.E_T_EVT, B.E_DEC_T, B.E_T_TIMER, B.E_T_MINUTE, B.E_T_FUND, B.E_T_SAMPLE, B.E_T_LAND):
        w[key] = math.inf
    w[B.E_LAST_DEC] = -math.inf
    w[B.E_CLOSEST_LIQ] = 1.0
    w[B.E_LAT] = latency_ms
    w[B.E_PACE] = B.PACE_MS
    w[B.E_EXHAUSTIVE] = 1.0 if exhaustive else 0.0
    mode = round(cfg[L.C_MODE])
    w[B.E_MODE] = mode
    if mode == L.MODE_CLASSIC:
        w[B.E_ALPHA] = ema_alpha(cfg[L.C_EMA_SPAN])
    else:
        for k, base in enumerate((L.C_LONG, L.C_SHORT)):
            w[B.E_AU_DELAY + k] = au_delay_ms(cfg, base)
            w[B.E_BAND_ALPHA + 3 * k:B.E_BAND_ALPHA + 3 * k + 3] = band_alphas(cfg[base + L.P_EMA_SPAN_0],
                                                                              cfg[base + L.P_EMA_SPAN_1])
    sample_ms = max(B.MINUTE_MS, math.ceil(span_ms / max(1, n_samples) / B.MINUTE_MS) * B.MINUTE_MS)
    w[B.E_SAMPLE_MS] = sample_ms
    fts, frate = funding if funding is not None else (np.zeros(0), np.zeros(0))
    fts, frate = np.ascontiguousarray(fts, dtype=np.float64), np.ascontiguousarray(frate, dtype=np.float64)
    n_rows = int(span_ms // sample_ms) + 3
    # `fills` starts unset and a reused context's buffers hold its replay's rows (zeroing or page-faulting
    # megabytes costs more than a short replay's statistics): the engine writes every row before it reads
    # it (the decision ring, the book, the last fills, the calculator's rows), and the Python side reads
    # only counted rows (fills, samples)
    if reuse is not None and reuse.smp.shape[0] == n_rows:  # a finished replay's buffers, as they are
        return Context(w=w, ring=reuse.ring, out=reuse.out, bk=reuse.bk, rf=reuse.rf, fills=reuse.fills,
                       smp=reuse.smp, fts=fts, frate=frate)
    return Context(
        w=w, ring=np.zeros((B.RING_CAP, B.RING_W)), out=np.zeros((L.MAX_ORDERS, L.O_SIZE)),
        bk=np.zeros((B.BK_CAP, B.BK_W)), rf=np.zeros((B.RF_CAP, B.RF_W)), fills=np.empty((B.F_CAP, B.F_W)),
        smp=np.zeros((n_rows, B.SM_W)), fts=fts, frate=frate)
