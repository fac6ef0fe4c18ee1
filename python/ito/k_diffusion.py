"""k-diffusion's samplers on ito: the same signatures as ``k_diffusion.sampling`` 0.1.1.post1
(``model, x, sigmas, extra_args=None, callback=None, disable=None`` and each sampler's own
arguments), working on a copy of ``x`` that the sampler returns, as k-diffusion does. The plan
samplers (Euler, Heun, the DPM-Solver++ multistep ones) take one fused ito pass per model
evaluation; ``sample_dpmpp_2s_ancestral`` and ``sample_dpm_fast`` compose a few
``ito.lincomb`` passes per step around their intermediate evaluations.

    from ito.k_diffusion import sample_dpmpp_2m
    x = sample_dpmpp_2m(denoiser, x, sigmas)            # k_diffusion.sampling.sample_dpmpp_2m

``model(x, sigma * s_in, **extra_args)`` is k-diffusion's denoiser (it returns x₀ at σ);
``sigmas`` is k-diffusion's schedule, noisiest first, usually ending in 0. The tensors are torch
tensors (CPU or CUDA; float32, float16 or bfloat16).

Noise: the ancestral and SDE samplers draw ito's counter-based noise, keyed by the extra
keyword arguments ``seed``, ``stream`` and ``offset`` (a shard of a batch passes its global
offset): the same bits on every device and batch split, but not the normals
``torch.randn_like`` would give, so a seed does not reproduce stock k-diffusion's images.
``ito.noise_address("step", …, step=i)`` names the normals step i draws, to hand a reference
implementation the same noise. Or pass ``noise_sampler=ito.k_diffusion.BrownianTreeNoiseSampler
(x, sigma_min, sigma_max, seed=…)`` (the drop-in for k-diffusion's, backed by ito's virtual
Brownian tree): the fused pass then draws its noise from that tree, and calling the same object
as k-diffusion does hands stock k-diffusion those exact normals. Any other noise sampler
(k-diffusion's ``default_noise_sampler(x)``, its torchsde tree, a front end's own) is called
as k-diffusion calls it, once per step into σ > 0, and its normals enter the fused pass as one
more input: the same noise, so stock k-diffusion's results.

Arguments ito cannot honour (``s_churn`` ≠ 0 for Euler and Heun, ``eta`` ≠ 1 or ``s_noise``
≠ 1 in the fused samplers, ``solver_type`` ≠ "midpoint") raise ``ValueError`` naming them.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, Optional

from . import BrownianTree, Sampler, _device_for, lincomb, noise_address

__all__ = [
    "BrownianTreeNoiseSampler",
    "sample_euler",
    "sample_euler_ancestral",
    "sample_heun",
    "sample_dpmpp_2m",
    "sample_dpmpp_2m_sde",
    "sample_dpmpp_3m_sde",
    "sample_dpmpp_2s_ancestral",
    "sample_dpm_fast",
    "sample_dpm_adaptive",
]


class BrownianTreeNoiseSampler:
    """k-diffusion's ``BrownianTreeNoiseSampler`` on ito's virtual Brownian tree: called with
    (sigma, sigma_next) it returns the standard normals (W(b) − W(a))/√(b − a), a < b the two
    transformed levels, shaped like ``x`` (its dtype and device) — one Brownian path over the
    noise levels, so runs on grids that refine one another see consistent noise.

    Differences from k-diffusion's: the path is ito's tree, not torchsde's (the same law, not
    the same numbers); ``seed`` is one integer for the whole batch (each element has its own
    path through its global index ``offset + i``, so a batch split gives the same bits), and
    ``None`` draws one from torch's generator as k-diffusion does; ``cpu`` has no effect (the
    bits are the same on every device); ``tol`` is the leaf width in transformed time
    (torchsde's default, 1e-6).
    """

    def __init__(self, x: Any, sigma_min: Any, sigma_max: Any, seed: Any = None,
                 transform: Callable = lambda x: x, cpu: bool = False, *, stream: int = 0,
                 offset: int = 0, tol: float = 1e-6) -> None:
        import torch

        if seed is None:
            seed = int(torch.randint(0, 2 ** 63 - 1, []).item())
        if isinstance(seed, (list, tuple)):
            raise ValueError("seed: one integer for the whole batch expected (ito's path of "
                             f"element i is keyed by its global index), found a list of {len(seed)}")
        level = lambda s: torch.as_tensor(s, dtype=torch.float64)  # noqa: E731  (exact)
        t0, t1 = float(transform(level(sigma_min))), float(transform(level(sigma_max)))
        self.transform, self._level = transform, level
        # Whether the tree runs over σ itself, as the fused samplers' grids do.
        self.identity = all(float(transform(level(v))) == v for v in (0.25, 1.5, 80.0))
        self.offset = offset
        self.tree = BrownianTree(min(t0, t1), max(t0, t1), seed=seed, stream=stream, tol=tol)
        self.shape, self.dtype, self.device = x.shape, x.dtype, x.device

    def __call__(self, sigma: Any, sigma_next: Any) -> Any:
        import torch

        s = float(self.transform(self._level(sigma)))
        t = float(self.transform(self._level(sigma_next)))
        # ito stores float32/16/bfloat16; other dtypes (a float64 reference run) get the
        # float32 normals converted.
        native = self.dtype in (torch.float32, torch.float16, torch.bfloat16)
        z = torch.empty(self.shape, dtype=self.dtype if native else torch.float32,
                        device=self.device)
        self.tree.normal(z, s, t, offset=self.offset)
        return z if native else z.to(self.dtype)


def _tree_of(noise_sampler: Any, x: Any) -> Optional[BrownianTreeNoiseSampler]:
    """The ito tree a fused sampler draws from inside its pass: an ito tree noise sampler over
    σ itself (other noise samplers are called for their normals instead)."""
    if not isinstance(noise_sampler, BrownianTreeNoiseSampler) or not noise_sampler.identity:
        return None
    if x.numel() != math.prod(noise_sampler.shape):
        raise ValueError(f"noise_sampler: made for a tensor of {math.prod(noise_sampler.shape)} "
                         f"elements, x has {x.numel()}")
    return noise_sampler


def _refuse(name: str, value: Any, allowed: Any) -> None:
    if value != allowed:
        raise ValueError(f"{name}: ito supports {allowed!r} here, found {value!r}")


def _levels(sigmas: Any) -> list:
    times = [float(s) for s in (sigmas.tolist() if hasattr(sigmas, "tolist") else sigmas)]
    if len(times) < 2 or not times[0] > 0:
        raise ValueError(f"sigmas: at least 2 noise levels, the first positive, expected; found {times}")
    return times


def _sample(solver: str, model: Callable, x: Any, sigmas: Any, extra_args: Optional[Dict],
            callback: Optional[Callable], seed: int, stream: int, offset: int,
            noise_sampler: Any = None) -> Any:
    import torch

    extra_args = {} if extra_args is None else extra_args
    times = _levels(sigmas)
    positive = [s for s in times if s > 0]
    tree = _tree_of(noise_sampler, x)
    given = None
    if tree is not None:
        config: Dict[str, Any] = {"noise_tree": tree.tree, "offset": tree.offset}
    else:
        config = {"seed": seed, "stream": stream, "offset": offset}
        if noise_sampler is not None:
            if not callable(noise_sampler):
                raise ValueError("noise_sampler: a callable (sigma, sigma_next) -> normals "
                                 f"expected, found {type(noise_sampler).__name__}")
            given = noise_sampler
    # k-diffusion's samplers step to σ = 0 with a first-order (denoised) update, which ito's
    # plans do into a clean end; no other lowering (sigmas that stop above 0 keep their order).
    s = Sampler.like(x, solver, prediction="data", schedule="edm",
                     schedule_params=[min(positive), times[0]], grid="times", times=times,
                     clean_end=times[-1] == 0, lower_order_final=False, euler_at_final=False,
                     **config)
    x = x.clone(memory_format=torch.contiguous_format)
    s_in = x.new_ones([x.shape[0]])
    for ev in s.steps(x):
        inp = s.eval_input(x)
        sigma = ev.sigma / ev.alpha
        denoised = model(inp, sigma * s_in, **extra_args)
        if callback is not None and ev.stage == 0:
            callback({"x": x, "i": ev.step, "sigma": times[ev.step], "sigma_hat": times[ev.step],
                      "denoised": denoised})
        noise = None
        if given is not None and times[ev.step + 1] > 0:
            # k-diffusion calls its noise sampler once per step into σ > 0, after the model
            # (every sampler here that takes one evaluates once per step)
            noise = given(sigmas[ev.step], sigmas[ev.step + 1]).to(x.dtype).contiguous()
        s.advance(x, denoised.to(x.dtype).contiguous(), noise)
    return x


def sample_euler(model, x, sigmas, extra_args=None, callback=None, disable=None, s_churn=0.,
                 s_tmin=0., s_tmax=float("inf"), s_noise=1., *, seed=0, stream=0, offset=0):
    """Euler (Karras et al. 2022, Algorithm 2) without churn."""
    _refuse("s_churn", s_churn, 0.)
    return _sample("euler", model, x, sigmas, extra_args, callback, seed, stream, offset)


def sample_euler_ancestral(model, x, sigmas, extra_args=None, callback=None, disable=None,
                           eta=1., s_noise=1., noise_sampler=None, *, seed=0, stream=0,
                           offset=0):
    """Ancestral Euler with ito's noise (or a ``BrownianTreeNoiseSampler``'s)."""
    _refuse("eta", eta, 1.)
    _refuse("s_noise", s_noise, 1.)
    return _sample("euler-a", model, x, sigmas, extra_args, callback, seed, stream, offset,
                   noise_sampler)


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
    """DPM-Solver++(2M) SDE with ito's noise (or a ``BrownianTreeNoiseSampler``'s; stock
    k-diffusion defaults to a torchsde tree)."""
    _refuse("eta", eta, 1.)
    _refuse("s_noise", s_noise, 1.)
    _refuse("solver_type", solver_type, "midpoint")
    return _sample("sde-dpmpp-2m", model, x, sigmas, extra_args, callback, seed, stream, offset,
                   noise_sampler)


def sample_dpmpp_3m_sde(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=1.,
                        s_noise=1., noise_sampler=None, *, seed=0, stream=0, offset=0):
    """DPM-Solver++(3M) SDE with ito's noise (or a ``BrownianTreeNoiseSampler``'s): ito's
    "sde-dpmpp-3m-heun" plan, whose second-order warm-up step weighs D₁ by φ₂ as
    k-diffusion's does."""
    _refuse("eta", eta, 1.)
    _refuse("s_noise", s_noise, 1.)
    return _sample("sde-dpmpp-3m-heun", model, x, sigmas, extra_args, callback, seed, stream,
                   offset, noise_sampler)


def sample_dpmpp_2s_ancestral(model, x, sigmas, extra_args=None, callback=None, disable=None,
                              eta=1., s_noise=1., noise_sampler=None, *, seed=0, stream=0,
                              offset=0):
    """Ancestral DPM-Solver++(2S): per step a midpoint evaluation at σ(s) = √(σ·σ_down) and a
    second-order step to σ_down, then σ_up of noise — each update one ``ito.lincomb`` pass
    (the noise drawn inside it: ito's step-i normals, or the given ``noise_sampler``'s, any
    callable). Any ``eta`` and ``s_noise``."""
    import torch

    extra_args = {} if extra_args is None else extra_args
    times = _levels(sigmas)
    x = x.clone(memory_format=torch.contiguous_format)
    x_2 = torch.zeros_like(x)
    s_in = x.new_ones([x.shape[0]])
    device = _device_for(x)
    for i in range(len(times) - 1):
        sigma, sigma_next = times[i], times[i + 1]
        denoised = model(x, sigmas[i] * s_in, **extra_args).to(x.dtype).contiguous()
        # k-diffusion's get_ancestral_step, in f64.
        sigma_up = min(sigma_next, eta * math.sqrt(max(
            sigma_next ** 2 * (sigma ** 2 - sigma_next ** 2) / sigma ** 2, 0.0)))
        sigma_down = math.sqrt(max(sigma_next ** 2 - sigma_up ** 2, 0.0))
        if callback is not None:
            callback({"x": x, "i": i, "sigma": sigmas[i], "sigma_hat": sigmas[i],
                      "denoised": denoised})
        if sigma_down == 0:
            # Euler to σ_down = 0 lands on x₀ itself.
            c_y, inputs, c = 0.0, [denoised], [1.0]
        else:
            h = math.log(sigma) - math.log(sigma_down)
            sigma_s = math.exp(-(-math.log(sigma) + 0.5 * h))
            lincomb(x_2, [x, denoised], c_y=0.0, c=[sigma_s / sigma, -math.expm1(-0.5 * h)],
                    device=device)
            denoised_2 = model(x_2, sigma_s * s_in, **extra_args).to(x.dtype).contiguous()
            c_y, inputs, c = sigma_down / sigma, [denoised_2], [-math.expm1(-h)]
        noise: Dict[str, Any] = {}
        # k-diffusion adds σ_up·z (calling its noise sampler) at every step into σ > 0.
        if sigma_next > 0:
            if noise_sampler is not None:
                z = noise_sampler(sigmas[i], sigmas[i + 1]).to(x.dtype).contiguous()
                inputs, c = inputs + [z], c + [sigma_up * s_noise]
            elif sigma_up > 0:
                a = noise_address("step", seed=seed, stream=stream, offset=offset, step=i,
                                  len=x.numel())
                noise = {"noise": sigma_up * s_noise, "seed": a[0], "stream": a[1],
                         "step": a[2], "offset": a[3]}
        lincomb(x, inputs, c_y=c_y, c=c, device=device, **noise)
    return x


class _DpmSolver:
    """DPM-Solver-1/2/3 in ε form (Lu et al. 2022), as k-diffusion's ``DPMSolver`` computes
    them (t = −log σ kept in float32 tensors), over the state ``x``: ε at a step's start
    (``start``) and at its intermediate points (``points``), then the update's coefficients
    (``update``) for one ``ito.lincomb`` pass. Each ε is one pass too."""

    def __init__(self, model, x, extra_args):
        import torch

        self.model, self.x, self.extra_args = model, x, extra_args
        self.device = _device_for(x)
        self.s_in = x.new_ones([x.shape[0]])
        self.eps = [torch.empty_like(x) for _ in range(3)]
        self.u = torch.empty_like(x)

    def _eps_at(self, k, inp, t):
        """ε = (input − D(input, σ))/σ into eps[k]; returns D."""
        sigma = t.neg().exp()
        d = self.model(inp, sigma * self.s_in, **self.extra_args).to(self.x.dtype).contiguous()
        sv = float(sigma)
        lincomb(self.eps[k], [inp, d], c_y=0.0, c=[1.0 / sv, -1.0 / sv], device=self.device)
        return d

    def start(self, t):
        """ε at (x, t) into eps[0]; returns the denoised x."""
        return self._eps_at(0, self.x, t)

    def points(self, t, h, order, r1):
        """The intermediate ε: at r1 (eps[1]) for order ≥ 2, and at ⅔ (eps[2]) for order 3."""
        sig = lambda v: float(v.neg().exp())  # noqa: E731
        hf = float(h)
        s1 = t + r1 * h
        lincomb(self.u, [self.x, self.eps[0]], c_y=0.0,
                c=[1.0, -sig(s1) * math.expm1(r1 * hf)], device=self.device)
        self._eps_at(1, self.u, s1)
        if order == 3:
            r2 = 2 / 3
            s2 = t + r2 * h
            a2 = sig(s2) * math.expm1(r2 * hf)
            b2 = sig(s2) * (r2 / r1) * (math.expm1(r2 * hf) / (r2 * hf) - 1)
            lincomb(self.u, [self.x, self.eps[0], self.eps[1]], c_y=0.0, c=[1.0, -a2 + b2, -b2],
                    device=self.device)
            self._eps_at(2, self.u, s2)

    def update(self, t_next, h, order, r1):
        """DPM-Solver-``order``'s update from x to t_next as (inputs, coefficients) beside x:
        x_next = x + Σ cⱼ·inputⱼ (order 2 reads the ε at r1, order 3 the one at ⅔)."""
        hf = float(h)
        sn = float(t_next.neg().exp())
        a = sn * math.expm1(hf)
        if order == 1:
            return [self.eps[0]], [-a]
        if order == 2:
            b = sn / (2 * r1) * math.expm1(hf)
            return [self.eps[0], self.eps[1]], [-a + b, -b]
        b = sn / (2 / 3) * (math.expm1(hf) / hf - 1)
        return [self.eps[0], self.eps[2]], [-a + b, -b]


def sample_dpm_fast(model, x, sigma_min, sigma_max, n, extra_args=None, callback=None,
                    disable=None, eta=0., s_noise=1., noise_sampler=None, *, seed=0, stream=0,
                    offset=0):
    """DPM-Solver-fast (Lu et al. 2022, the order schedule for ``n`` model evaluations): m =
    ⌊n/3⌋ + 1 steps equally spaced in t = −log σ, of orders 3, …, 3 and then 2, 1 (n ≡ 0 mod
    3) or n mod 3, each order-k step DPM-Solver-k in ε form with its intermediate points at
    r = ½ (k = 2) and ⅓, ⅔ (k = 3), as k-diffusion's ``sample_dpm_fast``. Every update is one
    ``ito.lincomb`` pass; with ``eta`` > 0, σ_up·z is added after each step (ito's step-i
    normals, or the given ``noise_sampler``'s)."""
    import torch

    if sigma_min <= 0 or sigma_max <= 0:
        raise ValueError("sigma_min and sigma_max must not be 0")
    if n < 1:
        raise ValueError(f"n: at least 1 model evaluation expected, found {n}")
    extra_args = {} if extra_args is None else extra_args
    x = x.clone(memory_format=torch.contiguous_format)
    dpm = _DpmSolver(model, x, extra_args)
    # k-diffusion's grid, in its float32 arithmetic: t = −log σ, linear in t.
    t_start, t_end = -torch.tensor(sigma_max).log(), -torch.tensor(sigma_min).log()
    m = n // 3 + 1
    ts = torch.linspace(t_start, t_end, m + 1)
    orders = [3] * (m - 2) + [2, 1] if n % 3 == 0 else [3] * (m - 1) + [n % 3]
    sig = lambda t: float(t.neg().exp())  # noqa: E731
    for i, order in enumerate(orders):
        t, t_next = ts[i], ts[i + 1]
        if eta:
            s_t, s_n = sig(t), sig(t_next)
            s_up = min(s_n, eta * math.sqrt(max(s_n ** 2 * (s_t ** 2 - s_n ** 2) / s_t ** 2, 0.0)))
            s_down = math.sqrt(max(s_n ** 2 - s_up ** 2, 0.0))
            t_next_ = torch.minimum(t_end, -torch.tensor(s_down).log()) if s_down > 0 else t_end
            su = math.sqrt(max(s_n ** 2 - sig(t_next_) ** 2, 0.0))
        else:
            t_next_, su = t_next, 0.0
        denoised = dpm.start(t)
        if callback is not None:
            callback({"x": x, "i": i, "t": t, "t_up": t, "denoised": denoised,
                      "sigma": sig(t), "sigma_hat": sig(t)})
        h = t_next_ - t
        r1 = 0.5 if order == 2 else 1 / 3
        if order > 1:
            dpm.points(t, h, order, r1)
        inputs, c = dpm.update(t_next_, h, order, r1)
        noise: Dict[str, Any] = {}
        if noise_sampler is not None:
            # k-diffusion calls its noise sampler after every step (eta = 0 included).
            z = noise_sampler(sig(t), sig(t_next)).to(x.dtype).contiguous()
            inputs, c = inputs + [z], c + [su * s_noise]
        elif su > 0:
            at = noise_address("step", seed=seed, stream=stream, offset=offset, step=i,
                               len=x.numel())
            noise = {"noise": su * s_noise, "seed": at[0], "stream": at[1], "step": at[2],
                     "offset": at[3]}
        lincomb(x, inputs, c_y=1.0, c=c, device=dpm.device, **noise)
    return x


class _StepController:
    """The PID step-size controller of Söderlind's form that k-diffusion's
    ``sample_dpm_adaptive`` uses: factor = limiter(ε₀^b₁·ε₁^b₂·ε₂^b₃) of the inverse errors,
    b = ((p + i + d), −(p + 2d), d)/order, limiter(x) = 1 + atan(x − 1); a step is accepted when
    the factor reaches ``accept_safety``; h is scaled by it either way."""

    def __init__(self, h, pcoeff, icoeff, dcoeff, order, accept_safety, eps=1e-8):
        self.h = h
        self.b = ((pcoeff + icoeff + dcoeff) / order, -(pcoeff + 2 * dcoeff) / order,
                  dcoeff / order)
        self.accept_safety, self.eps = accept_safety, eps
        self.inv = []

    def propose(self, error):
        inv = 1 / (float(error) + self.eps)
        if not self.inv:
            self.inv = [inv, inv, inv]
        self.inv[0] = inv
        factor = 1.0
        for v, b in zip(self.inv, self.b):
            factor *= v ** b
        factor = 1 + math.atan(factor - 1)
        accept = factor >= self.accept_safety
        if accept:
            self.inv[2], self.inv[1] = self.inv[1], self.inv[0]
        self.h *= factor
        return accept


def sample_dpm_adaptive(model, x, sigma_min, sigma_max, extra_args=None, callback=None,
                        disable=None, order=3, rtol=0.05, atol=0.0078, h_init=0.05, pcoeff=0.,
                        icoeff=1., dcoeff=0., accept_safety=0.81, eta=0., s_noise=1.,
                        noise_sampler=None, return_info=False):
    """DPM-Solver-12 / -23 with adaptive steps in t = −log σ (Lu et al. 2022), as
    k-diffusion's ``sample_dpm_adaptive``: each attempt forms the lower- and the higher-order
    solution from the same evaluations (orders 1 and 2, or 2 and 3 sharing the ⅓ point), every
    update one ``ito.lincomb`` pass; their difference, scaled by max(atol, rtol·max(|x_low|,
    |x_prev|)), gives the RMS error the PID controller accepts or rejects the step by (that norm
    is computed with torch). ``eta`` must be 0 (deterministic)."""
    import torch

    _refuse("eta", eta, 0.)
    if order not in (2, 3):
        raise ValueError(f"order: 2 or 3 expected, found {order}")
    if sigma_min <= 0 or sigma_max <= 0:
        raise ValueError("sigma_min and sigma_max must not be 0")
    for name, v in [("rtol", rtol), ("atol", atol), ("h_init", h_init)]:
        if not (math.isfinite(v) and v >= 0) or (name != "atol" and v == 0):
            raise ValueError(f"{name}: a finite value > 0 expected, found {v}")
    extra_args = {} if extra_args is None else extra_args
    x = x.clone(memory_format=torch.contiguous_format)
    dpm = _DpmSolver(model, x, extra_args)
    x_low, x_high = torch.empty_like(x), torch.empty_like(x)
    x_prev = x.clone()
    # The time bookkeeping in k-diffusion's float32 tensors, so that both walk the same steps.
    t_end = -torch.tensor(sigma_min).log()
    s = -torch.tensor(sigma_max).log()
    pid = _StepController(abs(h_init), pcoeff, icoeff, dcoeff, order, accept_safety)
    info = {"steps": 0, "nfe": 0, "n_accept": 0, "n_reject": 0}
    atol_t, rtol_t = torch.tensor(atol), torch.tensor(rtol)
    # The 2-step at r1 = ⅓ shares its point with the 3-step (DPM-Solver-23).
    r1 = 0.5 if order == 2 else 1 / 3
    while s < t_end - 1e-5:
        t = torch.minimum(t_end, s + pid.h)
        h = t - s
        denoised = dpm.start(s)
        dpm.points(s, h, order, r1)
        for out, k in [(x_low, order - 1), (x_high, order)]:
            inputs, c = dpm.update(t, h, k, r1)
            lincomb(out, [x] + inputs, c_y=0.0, c=[1.0] + c, device=dpm.device)
        delta = torch.maximum(atol_t, rtol_t * torch.maximum(x_low.abs(), x_prev.abs()))
        error = torch.linalg.norm((x_low - x_high) / delta) / x.numel() ** 0.5
        accept = pid.propose(error)
        if accept:
            x_prev.copy_(x_low)
            x.copy_(x_high)
            s = t
            info["n_accept"] += 1
        else:
            info["n_reject"] += 1
        info["nfe"] += order
        info["steps"] += 1
        if callback is not None:
            sigma = float(s.neg().exp())
            callback({"x": x, "i": info["steps"] - 1, "t": s, "t_up": s, "denoised": denoised,
                      "error": error, "h": pid.h, "sigma": sigma, "sigma_hat": sigma, **info})
    return (x, info) if return_info else x
