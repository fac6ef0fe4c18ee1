"""SDE steppers on numpy arrays and torch tensors, in place, one fused pass each; the Brownian
increment is drawn inside the pass from the counter: ΔW = √Δt·z, z = the noise identity's
normal for (step, element). Step k of a run passes ``step=k``, so a path is a pure function of
(seed, stream, offset) whatever the backend, thread count or batch split. The user evaluates
the drift f and the diffusion g (your network or formula) into tensors like x.

    >>> import numpy as np, ito
    >>> x, f, g = np.ones(4096, np.float32), np.zeros(4096, np.float32), np.full(4096, 0.5, np.float32)
    >>> for k in range(100):             # dX = −X dt + 0.5 dW
    ...     np.negative(x, out=f)
    ...     ito.sde.euler_maruyama(x, f, g, dt=0.01, seed=11, step=k)

Fractional noise: ``MarkovFbm(hurst, k, gamma_max=…, horizon=…)`` approximates
Riemann–Liouville fBM by K Ornstein–Uhlenbeck processes driven by one Brownian motion (Daems
et al. 2024); ``.transition(h).step(state, out, seed=…, step=k)`` advances the K planes of
``state`` (K·n elements, host memory) by h in one fused pass and writes ΔB̂ into ``out``:

    >>> fbm = ito.sde.MarkovFbm(0.3, 4, gamma_max=20.0, horizon=1.0)
    >>> state, dB = np.zeros(4 * 4096, np.float32), np.empty(4096, np.float32)
    >>> tr = fbm.transition(0.01)
    >>> for k in range(100):
    ...     tr.step(state, dB, seed=13, step=k)       # B̂ += dB
"""

from __future__ import annotations

from typing import Any, Optional

from . import _ito
from ._ito import FbmTransition, MarkovFbm

__all__ = [
    "FbmTransition",
    "MarkovFbm",
    "euler_maruyama",
    "euler_maruyama_scalar_noise",
    "milstein",
    "stochastic_heun_predict",
    "stochastic_heun_correct",
    "reversible_heun_forward",
    "reversible_heun_correct",
    "reversible_heun_reverse",
]


def _step(method: str, names: str, tensors: tuple, dt: float, seed: int, step: int, stream: int,
          offset: int, sample_len: int = 0, device: Optional[Any] = None) -> None:
    from . import _device_for

    named = list(zip(names.split(), tensors))
    if device is None:
        device = _device_for(tensors[0])
    _ito.sde_step(method, named, dt=dt, seed=seed, step=step, stream=stream, offset=offset,
                  sample_len=sample_len, device=device)


def euler_maruyama(x: Any, f: Any, g: Any, *, dt: float, seed: int, step: int, stream: int = 0,
                   offset: int = 0) -> None:
    """Itô, diagonal noise: x ← x + Δt·f + g·ΔW."""
    _step("euler_maruyama", "x f g", (x, f, g), dt, seed, step, stream, offset)


def euler_maruyama_scalar_noise(x: Any, f: Any, g: Any, *, dt: float, sample_len: int, seed: int,
                                step: int, stream: int = 0, offset: int = 0) -> None:
    """Scalar noise: one Brownian motion per sample of ``sample_len`` elements,
    x ← x + Δt·f + ΔW_b·g on sample b."""
    _step("euler_maruyama_scalar_noise", "x f g", (x, f, g), dt, seed, step, stream, offset,
          sample_len)


def milstein(x: Any, f: Any, g: Any, h: Any, *, dt: float, seed: int, step: int, stream: int = 0,
             offset: int = 0) -> None:
    """Itô, diagonal noise: x ← x + Δt·f + g·ΔW + ½·h·(ΔW² − Δt), h = g·∂g/∂x."""
    _step("milstein", "x f g h", (x, f, g, h), dt, seed, step, stream, offset)


def stochastic_heun_predict(x_pred: Any, x: Any, f: Any, g: Any, *, dt: float, seed: int,
                            step: int, stream: int = 0, offset: int = 0) -> None:
    """Stratonovich, stage 1: x_pred ← x + Δt·f + g·ΔW; then evaluate f, g at x_pred."""
    _step("stochastic_heun_predict", "x_pred x f g", (x_pred, x, f, g), dt, seed, step, stream,
          offset)


def stochastic_heun_correct(x: Any, f: Any, g: Any, f_pred: Any, g_pred: Any, *, dt: float,
                            seed: int, step: int, stream: int = 0, offset: int = 0) -> None:
    """Stage 2 (same ``step``): x ← x + ½Δt·(f + f_pred) + ½(g + g_pred)·ΔW."""
    _step("stochastic_heun_correct", "x f g f_pred g_pred", (x, f, g, f_pred, g_pred), dt, seed,
          step, stream, offset)


def reversible_heun_forward(y_hat: Any, y: Any, f0: Any, g0: Any, *, dt: float, seed: int,
                            step: int, stream: int = 0, offset: int = 0) -> None:
    """Reversible Heun (Kidger et al. 2021), first half of a forward step:
    ŷ ← 2y − ŷ + Δt·f0 + g0·ΔW (f0, g0 at the old ŷ); then evaluate f1, g1 at the new ŷ."""
    _step("reversible_heun_forward", "y_hat y f0 g0", (y_hat, y, f0, g0), dt, seed, step, stream,
          offset)


def reversible_heun_correct(y: Any, f0: Any, g0: Any, f1: Any, g1: Any, *, dt: float, seed: int,
                            step: int, stream: int = 0, offset: int = 0) -> None:
    """Reversible Heun's y update (same ``step``): y ← y + ½Δt·(f0 + f1) + ½(g0 + g1)·ΔW."""
    _step("reversible_heun_correct", "y f0 g0 f1 g1", (y, f0, g0, f1, g1), dt, seed, step, stream,
          offset)


def reversible_heun_reverse(y_hat: Any, y: Any, f1: Any, g1: Any, *, dt: float, seed: int,
                            step: int, stream: int = 0, offset: int = 0) -> None:
    """The reverse of a step: ŷ ← 2y − ŷ − Δt·f1 − g1·ΔW; then f0, g0 at ŷ and
    ``reversible_heun_correct`` with −Δt."""
    _step("reversible_heun_reverse", "y_hat y f1 g1", (y_hat, y, f1, g1), dt, seed, step, stream,
          offset)
