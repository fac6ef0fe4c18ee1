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

A whole solve: ``sdeint(sde, y0, ts, method=…, dt=…)`` takes a torchsde-style SDE (``f(t, y)``,
``g(t, y)``, ``sde_type``, ``noise_type``) and returns the states at ``ts``, each step one of the
fused steppers above with step k's counter increments: the same increments for every method,
backend and batch split (another grid draws step k's normals for its own Δt: another path, not
a refinement). Hand torchsde ``bm=`` a Brownian motion built on ``noise_address("increment",
…)`` to give it the same increments.
"""

from __future__ import annotations

from typing import Any, Optional

from . import _ito
from ._ito import FbmTransition, MarkovFbm

__all__ = [
    "FbmTransition",
    "MarkovFbm",
    "grid",
    "sdeint",
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


_METHODS = {"euler": "ito", "milstein": "ito", "heun": "stratonovich",
            "reversible_heun": "stratonovich"}


def grid(ts: Any, dt: float) -> "list[float]":
    """The step times ``sdeint`` walks: each interval of ``ts`` cut into ⌈length/dt⌉ equal steps
    (a length within 1e-9 relative of a multiple of dt takes exactly that many), so every
    output time is a node."""
    import math

    times = [float(t) for t in (ts.tolist() if hasattr(ts, "tolist") else ts)]
    if not (dt > 0 and math.isfinite(dt)):
        raise ValueError(f"dt: a finite step > 0 expected, found {dt}")
    if len(times) < 2 or any(not math.isfinite(t) for t in times) or any(
            b <= a for a, b in zip(times, times[1:])):
        raise ValueError(f"ts: at least 2 finite, strictly increasing times expected, found {times}")
    nodes = [times[0]]
    for a, b in zip(times, times[1:]):
        q = (b - a) / dt
        n = max(1, round(q) if abs(q - round(q)) <= 1e-9 * q else math.ceil(q))
        nodes += [a + (b - a) * i / n for i in range(1, n)] + [b]
    return nodes


def sdeint(sde: Any, y0: Any, ts: Any, *, method: str = "euler", dt: float = 1e-3,
           seed: int = 0, stream: int = 0, offset: int = 0) -> Any:
    """Solves ``sde`` from ``y0`` (a torch tensor or numpy array, batch first) over the times
    ``ts`` and returns the states there, stacked (``len(ts)`` first), as ``torchsde.sdeint``
    does. ``sde`` has ``f(t, y)`` and ``g(t, y)`` returning tensors like ``y`` (``noise_type``
    "diagonal") or, with ``noise_type = "scalar"`` (Euler only), ``g`` of shape
    ``(*y.shape, 1)`` (torchsde's "additive" and "general" types, a g matrix, are refused);
    ``sde_type`` "ito" (methods "euler", "milstein") or "stratonovich" ("heun",
    "reversible_heun"). Milstein needs ``gdg(t, y)`` (g·∂g/∂y) or a torch ``g`` to
    differentiate. Steps: ``grid(ts, dt)``; step k draws the counter's increments of step k
    (``noise_address("increment", seed=…, step=k)``). torchsde steps by ``dt`` and
    interpolates at output times between steps: the two walk the same grid (and agree given
    the same increments) when every interval of ``ts`` is a multiple of ``dt``."""
    if method not in _METHODS:
        raise ValueError(f"method: one of {sorted(_METHODS)} expected, found {method!r}")
    sde_type = getattr(sde, "sde_type", "ito")
    if sde_type != _METHODS[method]:
        raise ValueError(f"method: {method!r} solves {_METHODS[method]} SDEs; the sde's "
                         f"sde_type is {sde_type!r}")
    noise_type = getattr(sde, "noise_type", "diagonal")
    if noise_type not in ("diagonal", "scalar"):
        raise ValueError(f"noise_type: 'diagonal' (g like y, constant or not) or 'scalar' "
                         f"expected, found {noise_type!r}")
    if noise_type == "scalar" and method != "euler":
        raise ValueError(f"method: scalar noise is solved with 'euler', found {method!r}")
    torch_like = type(y0).__module__.startswith("torch")
    if torch_like:
        import torch

        y = y0.detach().clone(memory_format=torch.contiguous_format)
        new = lambda: torch.empty_like(y)  # noqa: E731
        stack = lambda xs: torch.stack(xs)  # noqa: E731
    else:
        import numpy as np

        y = np.ascontiguousarray(y0).copy()
        new = lambda: np.empty_like(y)  # noqa: E731
        stack = np.stack
    nodes = grid(ts, dt)
    outs = set(float(t) for t in (ts.tolist() if hasattr(ts, "tolist") else ts))
    ys = [_copy(y)]
    key = dict(seed=seed, stream=stream, offset=offset)
    sample_len = y[0].numel() if torch_like else y[0].size

    def fg(t: float, x: Any) -> "tuple[Any, Any]":
        f, g = sde.f(t, x), sde.g(t, x)
        if noise_type == "scalar":
            g = g.reshape(x.shape)
        return _dense(f, x), _dense(g, x)

    if method == "reversible_heun":
        z = _copy(y)
        f0, g0 = fg(nodes[0], z)
    elif method == "heun":
        yp = new()  # the predictor, reused by every step
    for k, (t0, t1) in enumerate(zip(nodes, nodes[1:])):
        h = t1 - t0
        if method == "euler":
            f, g = fg(t0, y)
            if noise_type == "scalar":
                euler_maruyama_scalar_noise(y, f, g, dt=h, sample_len=sample_len, step=k, **key)
            else:
                euler_maruyama(y, f, g, dt=h, step=k, **key)
        elif method == "milstein":
            f, g = fg(t0, y)
            milstein(y, f, g, _dense(_gdg(sde, t0, y), y), dt=h, step=k, **key)
        elif method == "heun":
            f, g = fg(t0, y)
            stochastic_heun_predict(yp, y, f, g, dt=h, step=k, **key)
            fp, gp = fg(t1, yp)
            stochastic_heun_correct(y, f, g, fp, gp, dt=h, step=k, **key)
        else:
            reversible_heun_forward(z, y, f0, g0, dt=h, step=k, **key)
            f1, g1 = fg(t1, z)
            reversible_heun_correct(y, f0, g0, f1, g1, dt=h, step=k, **key)
            f0, g0 = f1, g1
        if t1 in outs:
            ys.append(_copy(y))
    return stack(ys)


def _copy(x: Any) -> Any:
    return x.clone() if type(x).__module__.startswith("torch") else x.copy()


def _dense(v: Any, like: Any) -> Any:
    """``v`` as a contiguous tensor of ``like``'s dtype and shape (a broadcast constant
    expanded)."""
    if type(like).__module__.startswith("torch"):
        import torch

        v = torch.as_tensor(v, dtype=like.dtype, device=like.device)
        return v.expand(like.shape).contiguous() if v.shape != like.shape else v.contiguous()
    import numpy as np

    v = np.asarray(v, dtype=like.dtype)
    if v.shape != like.shape:
        v = np.broadcast_to(v, like.shape).copy()  # a broadcast view is read-only
    return np.ascontiguousarray(v)


def _gdg(sde: Any, t: float, y: Any) -> Any:
    """g·∂g/∂y for diagonal noise: the sde's own ``gdg``, else torch's forward-mode derivative
    of ``g`` along ones (elementwise g: its Jacobian's diagonal)."""
    if hasattr(sde, "gdg"):
        return sde.gdg(t, y)
    if not type(y).__module__.startswith("torch"):
        raise ValueError("sde: Milstein needs gdg(t, y) (g·∂g/∂y) for numpy states")
    import torch

    g, dg = torch.func.jvp(lambda x: sde.g(t, x), (y,), (torch.ones_like(y),))
    return g * dg
