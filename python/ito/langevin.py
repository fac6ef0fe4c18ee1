"""NCSN's annealed Langevin dynamics (Song & Ermon 2019) on numpy arrays and torch tensors:
noise levels σ₁ > … > σ_L, ``steps_per_level`` updates x ← x + (a_i/2)·score + √a_i·z at each
with a_i = ε·σ_i²/σ_L², each one fused ``ito.lincomb`` pass with its normals drawn inside;
optionally NCSNv2's final denoising step x ← x + σ_L²·score. The same bits as the Rust API's
``ito::diffusion::langevin::AnnealedLangevin`` (the same noise addresses and coefficients).

    >>> x = np.empty(4 * 1024, np.float32)
    >>> al = ito.langevin.AnnealedLangevin(x, sigma_max=10.0, sigma_min=0.01, levels=10,
    ...                                    steps_per_level=100, epsilon=2e-5, seed=3)
    >>> for ev in al.steps():
    ...     al.advance(my_score(x, ev.sigma))

(score-SDE's predictor–corrector sampler is ``ito.PcSampler``.)
"""

from __future__ import annotations

import math
from typing import Any, Iterator, NamedTuple, Optional, Sequence

import numpy as np

from . import NonFiniteError, _device_for, _is_torch, fill_normal, lincomb, noise_address

__all__ = ["AnnealedLangevin"]


class AnnealedLangevin:
    """An annealed Langevin run over the state ``x`` (yours, updated in place; it starts from
    N(0, σ₁²), ito's initial normals of the noise identity). Levels: ``sigmas`` (strictly
    decreasing, positive), or ``sigma_max``, ``sigma_min`` and ``levels`` for a geometric
    sequence. The noise identity ``seed``, ``stream``, ``offset``: update s of level i draws the
    corrector normals of step i·steps_per_level + s."""

    class Eval(NamedTuple):
        """Where the score is wanted: the level's σ, the level (``levels`` for the final
        denoising step) and the update within it."""

        sigma: float
        level: int
        step: int

    def __init__(self, x: Any, *, steps_per_level: int, epsilon: float,
                 sigmas: Optional[Sequence[float]] = None, sigma_max: Optional[float] = None,
                 sigma_min: Optional[float] = None, levels: Optional[int] = None,
                 denoise: bool = False, seed: int, stream: int = 0, offset: int = 0) -> None:
        if sigmas is None:
            if sigma_max is None or sigma_min is None or levels is None:
                raise ValueError("sigmas: give the levels, or sigma_max, sigma_min and levels")
            if not (0 < sigma_min < sigma_max and math.isfinite(sigma_max)):
                raise ValueError(f"sigma_max, sigma_min: 0 < σ_min < σ_max, finite expected, "
                                 f"found {sigma_max}, {sigma_min}")
            if levels < 2:
                raise ValueError(f"levels: at least 2 expected, found {levels}")
            ratio = math.log(sigma_min / sigma_max) / (levels - 1)
            sigmas = [sigma_max * math.exp(ratio * i) for i in range(levels)]
        sigmas = [float(s) for s in sigmas]
        if (not sigmas or any(not (math.isfinite(s) and s > 0) for s in sigmas)
                or any(b >= a for a, b in zip(sigmas, sigmas[1:]))):
            raise ValueError(f"sigmas: positive, finite, strictly decreasing levels expected, "
                             f"found {sigmas}")
        if steps_per_level < 1:
            raise ValueError(f"steps_per_level: at least 1 expected, found {steps_per_level}")
        if not (math.isfinite(epsilon) and epsilon > 0):
            raise ValueError(f"epsilon: a finite value > 0 expected, found {epsilon}")
        if len(sigmas) * steps_per_level > 1 << 32:
            raise ValueError("steps_per_level: at most 2^32 noisy steps in all")
        if not math.isfinite(float(np.float32(sigmas[0]))):
            raise ValueError(f"sigmas: levels representable in float32 expected, found {sigmas[0]}")
        self.sigmas, self.steps_per_level, self.epsilon = sigmas, steps_per_level, epsilon
        self.denoise, self.x = denoise, x
        self._source = dict(seed=seed, stream=stream, offset=offset)
        self._n = int(x.numel() if _is_torch(x) else x.size)
        self._device = _device_for(x)
        a = noise_address("initial", len=self._n, **self._source)
        fill_normal(x, seed=a[0], stream=a[1], step=a[2], offset=a[3], std=sigmas[0],
                    device=self._device)
        self.level, self.step = 0, 0

    def step_size(self, level: int) -> float:
        """a_i = ε·(σ_i/σ_L)²."""
        r = self.sigmas[min(level, len(self.sigmas) - 1)] / self.sigmas[-1]
        return self.epsilon * (r * r)

    def next_eval(self) -> Optional["AnnealedLangevin.Eval"]:
        """Where the score is wanted next, or None when the run is done."""
        levels = len(self.sigmas)
        if self.level < levels:
            return AnnealedLangevin.Eval(self.sigmas[self.level], self.level, self.step)
        if self.denoise and self.level == levels:
            return AnnealedLangevin.Eval(self.sigmas[-1], levels, 0)
        return None

    def steps(self) -> Iterator["AnnealedLangevin.Eval"]:
        """Iterates ``next_eval`` until done (call ``advance`` in the loop body)."""
        while (ev := self.next_eval()) is not None:
            yield ev

    def advance(self, score: Any) -> None:
        """Submits the score at the state for the point ``next_eval`` named: one fused pass."""
        ev = self.next_eval()
        if ev is None:
            raise ValueError("advance: a step before the end expected, found the run done")
        n = int(score.numel() if _is_torch(score) else score.size)
        if n != self._n:
            raise ValueError(f"score: {self._n} elements expected (the state's), found {n}")
        levels = len(self.sigmas)
        try:
            if ev.level == levels:
                # NCSNv2's denoising: x + σ_L²·score, no noise.
                lincomb(self.x, [score], c=[ev.sigma * ev.sigma], device=self._device)
            else:
                a = self.step_size(ev.level)
                at = noise_address("corrector", step=ev.level * self.steps_per_level + ev.step,
                                   len=self._n, **self._source)
                lincomb(self.x, [score], c=[0.5 * a], noise=math.sqrt(a), seed=at[0],
                        stream=at[1], step=at[2], offset=at[3], device=self._device)
        except NonFiniteError:
            # Written all the same: the run moves on, then reports (as the Rust driver).
            self._move_on(ev)
            raise
        self._move_on(ev)

    def _move_on(self, ev: "AnnealedLangevin.Eval") -> None:
        if ev.level == len(self.sigmas):
            self.level += 1
            return
        self.step += 1
        if self.step == self.steps_per_level:
            self.step, self.level = 0, self.level + 1
