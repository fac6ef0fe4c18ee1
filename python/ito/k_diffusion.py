"""k-diffusion's samplers on ito: the same signatures as ``k_diffusion.sampling`` 0.1.1.post1
(``model, x, sigmas, extra_args=None, callback=None, disable=None`` and each sampler's own
arguments), each model evaluation followed by one fused ito pass on a copy of ``x`` that the
sampler returns, as k-diffusion does.

    from ito.k_diffusion import sample_dpmpp_2m
    x = sample_dpmpp_2m(denoiser, x, sigmas)            # k_diffusion.sampling.sample_dpmpp_2m

``model(x, sigma * s_in, **extra_args)`` is k-diffusion's denoiser (it returns x₀ at σ);
``sigmas`` is k-diffusion's schedule, noisiest first, usually ending in 0. The tensors are torch
tensors (CPU or CUDA; float32, float16 or bfloat16).

Noise: the ancestral and SDE samplers draw ito's counter-based noise, keyed by the extra
keyword arguments ``seed``, ``stream`` and ``offset`` (a shard of a batch passes its global
offset): the same bits on every device and batch split, but not the normals
``torch.randn_like`` would give, so a seed does not reproduce stock k-diffusion's images.
A ``noise_sampler`` is refused (ito cannot take its noise from a callback inside the fused
pass); ``ito.noise_address("step", …, step=i)`` names the normals step i draws, to hand a
reference implementation the same noise.

Arguments ito cannot honour (``s_churn`` ≠ 0 for Euler and Heun, ``eta`` ≠ 1 or ``s_noise``
≠ 1, ``solver_type`` ≠ "midpoint") raise ``ValueError`` naming them.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional

from . import Sampler

__all__ = [
    "sample_euler",
    "sample_euler_ancestral",
    "sample_heun",
    "sample_dpmpp_2m",
    "sample_dpmpp_2m_sde",
]


def _refuse(name: str, value: Any, allowed: Any) -> None:
    if value != allowed:
        raise ValueError(f"{name}: ito supports {allowed!r} here, found {value!r}")


def _sample(solver: str, model: Callable, x: Any, sigmas: Any, extra_args: Optional[Dict],
            callback: Optional[Callable], seed: int, stream: int, offset: int) -> Any:
    import torch

    extra_args = {} if extra_args is None else extra_args
    times = [float(s) for s in (sigmas.tolist() if hasattr(sigmas, "tolist") else sigmas)]
    positive = [s for s in times if s > 0]
    if len(times) < 2 or len(positive) < 1:
        raise ValueError(f"sigmas: at least 2 noise levels, the first positive, expected; found {times}")
    # k-diffusion's samplers step to σ = 0 with a first-order (denoised) update, which ito's
    # plans do into a clean end; no other lowering (sigmas that stop above 0 keep their order).
    s = Sampler.like(x, solver, prediction="data", schedule="edm",
                     schedule_params=[min(positive), times[0]], grid="times", times=times,
                     clean_end=times[-1] == 0, lower_order_final=False, euler_at_final=False,
                     seed=seed, stream=stream, offset=offset)
    x = x.clone(memory_format=torch.contiguous_format)
    s_in = x.new_ones([x.shape[0]])
    for ev in s.steps(x):
        inp = s.eval_input(x)
        sigma = ev.sigma / ev.alpha
        denoised = model(inp, sigma * s_in, **extra_args)
        if callback is not None and ev.stage == 0:
            callback({"x": x, "i": ev.step, "sigma": times[ev.step], "sigma_hat": times[ev.step],
                      "denoised": denoised})
        s.advance(x, denoised.to(x.dtype).contiguous())
    return x


def sample_euler(model, x, sigmas, extra_args=None, callback=None, disable=None, s_churn=0.,
                 s_tmin=0., s_tmax=float("inf"), s_noise=1., *, seed=0, stream=0, offset=0):
    """Euler (Karras et al. 2022, Algorithm 2) without churn."""
    _refuse("s_churn", s_churn, 0.)
    return _sample("euler", model, x, sigmas, extra_args, callback, seed, stream, offset)


def sample_euler_ancestral(model, x, sigmas, extra_args=None, callback=None, disable=None,
                           eta=1., s_noise=1., noise_sampler=None, *, seed=0, stream=0,
                           offset=0):
    """Ancestral Euler with ito's noise."""
    _refuse("eta", eta, 1.)
    _refuse("s_noise", s_noise, 1.)
    _refuse("noise_sampler", noise_sampler, None)
    return _sample("euler-a", model, x, sigmas, extra_args, callback, seed, stream, offset)


def sample_heun(model, x, sigmas, extra_args=None, callback=None, disable=None, s_churn=0.,
                s_tmin=0., s_tmax=float("inf"), s_noise=1., *, seed=0, stream=0, offset=0):
    """Heun (Karras et al. 2022, Algorithm 2) without churn."""
    _refuse("s_churn", s_churn, 0.)
    return _sample("heun", model, x, sigmas, extra_args, callback, seed, stream, offset)


def sample_dpmpp_2m(model, x, sigmas, extra_args=None, callback=None, disable=None, *, seed=0,
                    stream=0, offset=0):
    """DPM-Solver++(2M)."""
    return _sample("dpmpp-2m", model, x, sigmas, extra_args, callback, seed, stream, offset)


def sample_dpmpp_2m_sde(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=1.,
                        s_noise=1., noise_sampler=None, solver_type="midpoint", *, seed=0,
                        stream=0, offset=0):
    """DPM-Solver++(2M) SDE with ito's noise."""
    _refuse("eta", eta, 1.)
    _refuse("s_noise", s_noise, 1.)
    _refuse("noise_sampler", noise_sampler, None)
    _refuse("solver_type", solver_type, "midpoint")
    return _sample("sde-dpmpp-2m", model, x, sigmas, extra_args, callback, seed, stream, offset)
