"""EMA updates: the classic tick EMA and the modes' three-span minute EMA bands."""
import math

import numpy as np

from passivx.calc.jit import jit


@jit
def ema_alpha(span: float) -> float:
    """Smoothing factor `2 / (span + 1)`."""
    return 2.0 / (span + 1.0)


@jit
def ema_update(ema: float, alpha: float, value: float) -> float:
    """One EMA step: `ema * (1 - alpha) + value * alpha`."""
    return ema * (1.0 - alpha) + value * alpha


@jit
def band_alphas(span_0: float, span_1: float) -> np.ndarray:
    """Alphas of the three band EMAs with spans `[s0, sqrt(s0*s1), s1]` (minutes)."""
    out = np.empty(3)
    out[0] = ema_alpha(span_0)
    out[1] = ema_alpha(math.sqrt(span_0 * span_1))
    out[2] = ema_alpha(span_1)
    return out
