"""ito: fused, bit-reproducible kernels for diffusion sampling and SDE integration.

Every call works in place on numpy arrays and torch tensors (CPU, and CUDA: samplers made with
``Sampler.like`` and ``randn_like`` run on torch's current stream; the raw kernels take
``device=ito.CudaDevice(index, stream)``), taken zero-copy through DLPack: float32, float16 (and bfloat16 for torch), contiguous.
Anything else raises a ``TypeError``/``ValueError`` naming the argument — ito never copies
behind your back. The GIL is released during every pass.

Noise is counter-based: a normal is a pure function of (seed, stream, step, offset + i), so a
result is the same to the bit on every backend, thread count, batch split and device.

    >>> import numpy as np, ito
    >>> x = np.zeros(1000, dtype=np.float32)
    >>> s = ito.Sampler("dpmpp-2m", x.size, seed=7)
    >>> s.init_noise(x)
    >>> for ev in s.steps(x):
    ...     eps = (ev.sigma * s.eval_input(x)).astype(np.float32)  # your model: the exact ε of N(0, 1)
    ...     s.advance(x, eps)

Threads: ito's CPU passes run on its own rayon pool, sized by ``RAYON_NUM_THREADS`` (default:
one per core). Beside torch's intra-op pool both would compete for the same cores; set
``RAYON_NUM_THREADS`` (before the first ito call) and ``torch.set_num_threads`` so that their
sum fits the machine.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterator, NamedTuple, Optional, Sequence, Tuple

from . import _ito
from ._ito import CudaDevice, Exported, NonFiniteError, fill_normal, lincomb, noise_address

__all__ = [
    "SOLVERS",
    "BrownianTree",
    "CudaDevice",
    "Eval",
    "NonFiniteError",
    "PcSampler",
    "Sampler",
    "fill_normal",
    "lincomb",
    "noise_address",
    "randn",
    "randn_like",
    "reduce",
    "sde",
]

__version__ = "0.1.0"

#: Every solver name a ``Sampler`` accepts.
SOLVERS: Tuple[str, ...] = tuple(_ito.solver_names())


class Eval(NamedTuple):
    """Where the model is wanted: grid step, stage within it, time, α, σ (model input
    x = α·x₀ + σ·ε), the training timestep on discrete grids (else −1), and whether the input
    is the sampler's stage buffer rather than the state."""

    step: int
    stage: int
    t: float
    alpha: float
    sigma: float
    timestep: int
    on_stage: bool


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


_DEVICES: dict = {}


def _device_for(x: Any) -> Optional[CudaDevice]:
    """A CudaDevice on torch's current stream for a CUDA tensor (one per device and stream,
    kept), None for host memory."""
    if _is_torch(x) and x.is_cuda:
        import torch

        index = x.device.index if x.device.index is not None else torch.cuda.current_device()
        key = (index, torch.cuda.current_stream(x.device).cuda_stream)
        if key not in _DEVICES:
            _DEVICES[key] = CudaDevice(*key)
        return _DEVICES[key]
    return None


def _view_like(exported: Exported, x: Any) -> Any:
    """An ito-owned buffer as the same kind of tensor as ``x`` (numpy or torch), shaped like it."""
    if _is_torch(x):
        import torch

        return torch.from_dlpack(exported).view(x.shape)
    import numpy as np

    return np.from_dlpack(exported).reshape(x.shape)


class Sampler:
    """A solver plan walked over your tensor: one fused pass per model evaluation.

    ``solver`` is one of ``ito.SOLVERS`` ("dpmpp-2m", "sde-dpmpp-2m", "unipc-3", "euler-a", …);
    ``len`` the number of elements of the state (the whole batch). The state stays yours: pass
    it to every call. Keywords (defaults in brackets):

    - ``prediction``: what the model returns, "eps" | "data" (x₀) | "v" | "velocity" ["eps"];
    - ``dtype``: "float32" | "float16" | "bfloat16" ["float32"];
    - ``schedule``: "vp_linear" | "vp_cosine" | "ve" | "edm" | "flow" | "discrete_linear" |
      "discrete_scaled_linear" ["vp_linear"], ``schedule_params`` (β_min, β_max | s | σ_min,
      σ_max | β_start, β_end, training steps);
    - ``grid``: "uniform_t" | "uniform_lambda" | "quadratic" | "karras" | "times" |
      "discrete_linspace" | "discrete_leading" | "discrete_trailing" | "nodes"
      ["uniform_lambda"], with ``steps`` [20], ``t_start``/``t_end`` [1, 1e-3],
      ``sigma_min``/``sigma_max``/``rho`` [0.002, 80, 7], ``times`` (a final 0 means a
      noise-free end), ``steps_offset`` [0], ``clean_end`` [True]; "nodes" takes ``times``,
      ``alphas`` and ``sigmas`` (x = α·x₀ + σ·ε at each node, noisiest first);
    - ``lower_order_final`` [True], ``euler_at_final`` [False], ``thresholding`` (ratio,
      max_value, sample_len) [None];
    - the noise identity ``seed``, ``stream``, ``offset`` [0, 0, 0] (a shard of a batch passes
      its global offset);
    - ``noise_tree``: a ``BrownianTree`` over the grid's time axis to draw the step noise from
      instead of the per-step counter [None]: step k adds W(t_{k+1}, t_k)/√(t_k − t_{k+1}) of
      the tree (at this sampler's ``offset``), so grids that refine one another follow one
      Brownian path; its span must cover every noisy node;
    - ``device``: a ``CudaDevice`` for CUDA tensors (``Sampler.like`` picks torch's current
      stream for you).
    """

    def __init__(self, solver: str, len: int, **config: Any) -> None:
        tree = config.get("noise_tree")
        if isinstance(tree, BrownianTree):
            config["noise_tree"] = tree._native
        self._native = _ito.Sampler(solver, len, **config)

    @classmethod
    def like(cls, x: Any, solver: str, **config: Any) -> "Sampler":
        """A sampler for tensor ``x``: its element count, dtype and device (CUDA tensors: on
        torch's current stream)."""
        dtype = str(x.dtype).replace("torch.", "")
        device = _device_for(x)
        if device is not None:
            config.setdefault("device", device)
        return cls(solver, int(x.numel() if _is_torch(x) else x.size), dtype=dtype, **config)

    def reserve(self) -> None:
        """Allocates every scratch buffer now: no later step allocates."""
        self._native.reserve()

    def init_noise(self, x: Any) -> None:
        """x = σ₀·z, z from the noise identity (before the first step)."""
        self._native.init_noise(x)

    def next_eval(self, x: Any) -> Optional[Eval]:
        """Where the model is wanted next, or None when sampling is done."""
        e = self._native.next_eval(x)
        return None if e is None else Eval(*e)

    def eval_input(self, x: Any) -> Any:
        """The tensor to evaluate the model on: ``x`` itself, or a view of the sampler's stage
        buffer (same library and shape as ``x``; read it, do not keep it past the next call)."""
        stage = self._native.eval_input(x)
        return x if stage is None else _view_like(stage, x)

    def advance(self, x: Any, model_out: Any, noise: Any = None) -> None:
        """Submits the model output for the point ``next_eval`` named: one fused pass on x.
        ``noise``: the step's standard normals (like x), read as one more input of the pass in
        place of the sampler's own counter or tree noise (e.g. the normals another
        implementation draws from its generator); a step that adds no noise ignores them."""
        self._native.advance(x, model_out, noise)

    def run(self, x: Any, model: Callable[[Any, Eval], Any]) -> Any:
        """The whole loop: ``model(input, eval)`` returns the prediction (same shape and dtype
        as ``x``). Returns ``x``, updated in place."""
        while (ev := self.next_eval(x)) is not None:
            out = model(self.eval_input(x), ev)
            self.advance(x, out)
        return x

    def steps(self, x: Any) -> Iterator[Eval]:
        """Iterates ``next_eval(x)`` until done (call ``advance`` in the loop body)."""
        while (ev := self.next_eval(x)) is not None:
            yield ev

    def reset(self) -> None:
        """Starts the plan again (same noise identity): the next image."""
        self._native.reset()

    def nodes(self) -> Sequence[Tuple[float, float, float, int]]:
        """The grid: (t, α, σ, timestep) per node, noisiest first."""
        return self._native.nodes()

    def take_nonfinite(self) -> bool:
        """On a device: whether a pass stored NaN/Inf since the last call (synchronises)."""
        return self._native.take_nonfinite()

    @property
    def len(self) -> int:
        return self._native.len

    @property
    def dtype(self) -> str:
        return self._native.dtype


class PcSampler:
    """score-SDE's predictor–corrector sampler (VP or VE SDE) over ``len`` elements in samples
    of ``sample_len`` (the corrector's norms are per sample); its state is its own buffer.

    Keywords: ``schedule`` "vp_linear" | "ve" with ``schedule_params`` (β_min, β_max | σ_min,
    σ_max); ``steps`` [1000] time points from T = 1 to ``t_end`` [1e-3]; ``predictor``
    "reverse_diffusion" | "euler_maruyama" | "none"; ``corrector_steps`` [1] Langevin steps per
    point with target ``snr`` [0.16] (``batch_mean_norms`` for score-SDE's batch-mean norms);
    ``dtype``; the noise identity ``seed``, ``stream``, ``offset``.

        >>> pc = ito.PcSampler(4 * 256, 256, schedule="ve", schedule_params=(0.01, 50.0), seed=5)
        >>> x = pc.state()                         # numpy view of the state ("torch" for torch)
        >>> while (ev := pc.next_eval()) is not None:
        ...     pc.advance(my_score(x, ev.t))
    """

    class Eval(NamedTuple):
        """Where the score is wanted: the time, the time point, the corrector step (or the
        predictor, = corrector_steps)."""

        t: float
        index: int
        stage: int

    def __init__(self, len: int, sample_len: int, **config: Any) -> None:
        self._native = _ito.PcSampler(len, sample_len, **config)

    def state(self, kind: str = "numpy") -> Any:
        """The state as a numpy array or ("torch") a torch tensor, zero-copy: read it, ito
        writes it in ``advance``."""
        exported = self._native.state()
        if kind == "torch":
            import torch

            return torch.from_dlpack(exported)
        if kind != "numpy":
            raise ValueError(f"kind: 'numpy' or 'torch' expected, found {kind!r}")
        import numpy as np

        return np.from_dlpack(exported)

    def next_eval(self) -> Optional["PcSampler.Eval"]:
        """Where the score is wanted next, or None when done."""
        e = self._native.next_eval()
        return None if e is None else PcSampler.Eval(*e)

    def advance(self, score: Any) -> None:
        """Submits the score at the state: a corrector step or the predictor, fused passes."""
        self._native.advance(score)


class BrownianTree:
    """A virtual Brownian tree over [t0, t1]: W(s, t) for any s ≤ t in the span, a pure
    function of (seed, stream, offset, s, t) — the same bits on every backend, thread count and
    batch split, and consistent across queries (increments over adjacent intervals add up to
    the increment over their union, up to f32 rounding).

    ``tol``: leaves no wider than this (depth ⌈log₂((t1 − t0)/tol)⌉), or ``depth`` levels
    (1 … 31); neither: 20 levels. Each query costs one pass combining at most 2·(depth + 2)
    normal streams per element. Element i of a tensor is the path of global element
    ``offset + i`` (a shard passes its own offset).

        >>> tree = ito.BrownianTree(0.0, 1.0, seed=3, tol=1e-4)
        >>> dw = np.empty(4096, np.float32)
        >>> tree.increment(dw, 0.25, 0.5)           # W(0.5) − W(0.25), N(0, 0.25) per element
    """

    def __init__(self, t0: float, t1: float, *, seed: int, stream: int = 0, tol: float = 0.0,
                 depth: Optional[int] = None) -> None:
        self._native = _ito.BrownianTree(t0, t1, seed=seed, stream=stream, tol=tol, depth=depth)

    def increment(self, y: Any, s: float, t: float, *, scale: float = 1.0, offset: int = 0) -> None:
        """y ← scale·(W(t) − W(s)), s ≤ t, in place (numpy or torch, any supported dtype and
        device); the weights are formed in f64 and rounded once."""
        self._native.increment(y, s, t, scale=scale, offset=offset, device=_device_for(y))

    def value(self, y: Any, t: float, *, offset: int = 0) -> None:
        """y ← W(t) − W(t0)."""
        self.increment(y, self.t0, t, offset=offset)

    def normal(self, y: Any, s: float, t: float, *, offset: int = 0) -> None:
        """y ← (W(max) − W(min))/√|t − s|: the standard normals a ``Sampler`` with this
        ``noise_tree`` adds at a step between s and t (the same bits)."""
        a, b = min(s, t), max(s, t)
        if not b > a:
            raise ValueError(f"t: a time other than s expected, found s = t = {s}")
        # math.sqrt is the correctly rounded root, as the sampler's f64 sqrt: the same scale.
        self.increment(y, a, b, scale=1.0 / math.sqrt(b - a), offset=offset)

    @property
    def t0(self) -> float:
        return self._native.t0

    @property
    def t1(self) -> float:
        return self._native.t1

    @property
    def depth(self) -> int:
        return self._native.depth

    @property
    def seed(self) -> int:
        return self._native.seed

    @property
    def stream(self) -> int:
        return self._native.stream

    def __repr__(self) -> str:
        return repr(self._native)


def randn(shape: Any, *, seed: int, stream: int = 0, offset: int = 0, step: int = 0, dtype: Any = "float32") -> Any:
    """A new numpy array of ito's standard normals N(seed, stream, step, offset + i)."""
    import numpy as np

    y = np.empty(shape, dtype=np.dtype(dtype))
    fill_normal(y, seed=seed, stream=stream, step=step, offset=offset)
    return y


def randn_like(x: Any, *, seed: int, stream: int = 0, offset: int = 0, step: int = 0) -> Any:
    """ito's standard normals shaped like ``x`` (numpy or torch, its dtype and device)."""
    if _is_torch(x):
        import torch

        y = torch.empty_like(x, memory_format=torch.contiguous_format)
        fill_normal(y, seed=seed, stream=stream, step=step, offset=offset, device=_device_for(y))
        return y
    return randn(x.shape, seed=seed, stream=stream, offset=offset, step=step, dtype=x.dtype)


def reduce(x: Any, y: Any = None, *, segment_len: int) -> Any:
    """Per segment of ``segment_len`` elements: (Σx², Σx·y, max|x|) as an (n, 3) float32 numpy
    array, in ito's fixed reduction order (host memory)."""
    import numpy as np

    return np.asarray(_ito.reduce(x, y, segment_len=segment_len), dtype=np.float32).reshape(-1, 3)


from . import langevin, sde  # noqa: E402  (use the names above)
