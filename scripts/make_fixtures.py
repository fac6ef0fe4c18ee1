"""Generate known-answer sampler trajectories from HuggingFace diffusers, in float64.

What it does
------------
For each case in ``CASES`` it builds one diffusers scheduler, forces every number it
works with to float64, and runs the sampling loop ``scheduler.step()`` by ``step()``
against an analytic "network": per element i the data is Gaussian,
x0 ~ N(mu_i, s_i^2), so with x_vp = alpha*x0 + sigma*eps (alpha^2 + sigma^2 = 1) the
exact predictions for a model input x_vp are

    eps_hat = sigma*(x_vp - alpha*mu)/(alpha^2*s^2 + sigma^2)
    x0_hat  = mu + alpha*s^2*(x_vp - alpha*mu)/(alpha^2*s^2 + sigma^2)
    v_hat   = alpha*eps_hat - sigma*x0_hat

The (alpha, sigma) of each model call is the point at which diffusers itself evaluates
the model: ``scheduler.sigmas[i]`` (VE form, alpha = 1/sqrt(1+sigma_ve^2),
sigma = sigma_ve*alpha) for schedulers with a ``sigmas`` array, where i is the index
the scheduler is at when the model is called, and alphas_cumprod[t] at the integer
timestep for DDIM. Noise for the stochastic samplers, and the initial sample, come
from ito's own normal stream (``cargo run --release --quiet --example print_normals``),
so a Rust test can replay the exact same trajectory. Every trajectory is written to
``<out>/<case>.txt`` in the plain-text format that ito's tests read (see the end of
``run_case``: `#` comment lines, then one record per line, a name followed by
whitespace-separated values, floats written with ``repr(float(v))``).

No diffusers code is copied here: the script imports the installed diffusers and
drives it. To keep it in float64 it (a) rebinds the names ``torch`` and ``np`` inside
the scheduler modules to thin proxies whose ``float32`` attribute is float64 (diffusers
upcasts samples with ``.to(torch.float32)`` and stores schedules with
``.astype(np.float32)``), (b) replaces betas/alphas/alphas_cumprod and the derived
tables by float64 values computed from ``numpy.linspace(beta_start, beta_end, 1000,
dtype=float64)``, and (c) checks with a TorchFunctionMode that no floating tensor other
than float64 is produced inside set_timesteps, scale_model_input and step.

How to run
----------
    bash scripts/make_fixtures.sh

which creates ``target/fixtures-venv`` with the pinned versions below and then runs

    target/fixtures-venv/bin/python scripts/make_fixtures.py --out tests/data/diffusers

from the repository root. Output is byte-for-byte deterministic.

Pinned versions
---------------
    diffusers == 0.42.1
    torch     == 2.15.0   (PyPI wheel, CPU only is fine; see make_fixtures.sh)
    numpy     == 2.4.6
The script refuses to run with other versions unless ``--allow-other-versions``.
"""

import argparse
import importlib
import math
import os
import subprocess
import sys

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

import diffusers

PINNED = {"diffusers": "0.42.1", "torch": "2.15.0", "numpy": "2.4.6"}

SEED = 2024
NOISE_STREAM = 0  # per-step noise: step = index of the step() call
INIT_STREAM = 1  # initial sample: step = 0

MU = [-1.5, -0.7, 0.0, 0.3, 0.9, 1.4, 2.0, -2.5]
S = [0.5, 1.0, 0.2, 0.8, 1.3, 0.05, 0.6, 1.0]
N = len(MU)

NUM_TRAIN = 1000
BETA_START = 0.0001
BETA_END = 0.02

# Every case sets the beta schedule explicitly (HeunDiscreteScheduler has other
# defaults), and these keys are recorded in the fixture's `config` record.
BASE = {
    "num_train_timesteps": NUM_TRAIN,
    "beta_start": BETA_START,
    "beta_end": BETA_END,
    "beta_schedule": "linear",
}

MS = ("scheduling_dpmsolver_multistep", "DPMSolverMultistepScheduler")
SS = ("scheduling_dpmsolver_singlestep", "DPMSolverSinglestepScheduler")
DEIS = ("scheduling_deis_multistep", "DEISMultistepScheduler")
UNIPC = ("scheduling_unipc_multistep", "UniPCMultistepScheduler")
DDIM = ("scheduling_ddim", "DDIMScheduler")
EULER = ("scheduling_euler_discrete", "EulerDiscreteScheduler")
EULER_A = ("scheduling_euler_ancestral_discrete", "EulerAncestralDiscreteScheduler")
HEUN = ("scheduling_heun_discrete", "HeunDiscreteScheduler")

# DPMSolver (algorithm_type=dpmsolver) refuses final_sigmas_type="zero" (its default)
# in this diffusers version, so those cases end at sigma_min instead.
_DPM = {"algorithm_type": "dpmsolver", "final_sigmas_type": "sigma_min"}
_PP = {"algorithm_type": "dpmsolver++"}
_THR = {"thresholding": True, "dynamic_thresholding_ratio": 0.9, "sample_max_value": 1.5}

# (case name, (module, class), explicit config, num_inference_steps, step kwargs)
CASES = [
    ("dpmpp_1", MS, {**_PP, "solver_order": 1}, 10, {}),
    ("dpmpp_2m", MS, {**_PP, "solver_order": 2}, 10, {}),
    ("dpmpp_3m", MS, {**_PP, "solver_order": 3}, 10, {}),
    ("dpm_1", MS, {**_DPM, "solver_order": 1}, 10, {}),
    ("dpm_2m", MS, {**_DPM, "solver_order": 2}, 10, {}),
    ("dpm_3m", MS, {**_DPM, "solver_order": 3}, 10, {}),
    ("dpmpp_2m_heun", MS, {**_PP, "solver_order": 2, "solver_type": "heun"}, 10, {}),
    ("dpmpp_2m_25", MS, {**_PP, "solver_order": 2}, 25, {}),
    ("dpmpp_2m_x0", MS, {**_PP, "solver_order": 2, "prediction_type": "sample"}, 10, {}),
    ("dpmpp_2m_v", MS, {**_PP, "solver_order": 2, "prediction_type": "v_prediction"}, 10, {}),
    (
        "dpmpp_2m_leading",
        MS,
        {**_PP, "solver_order": 2, "timestep_spacing": "leading", "steps_offset": 0},
        10,
        {},
    ),
    ("dpmpp_2m_trailing", MS, {**_PP, "solver_order": 2, "timestep_spacing": "trailing"}, 10, {}),
    ("dpmpp_2m_karras", MS, {**_PP, "solver_order": 2, "use_karras_sigmas": True}, 10, {}),
    ("sde_dpmpp_2m", MS, {"algorithm_type": "sde-dpmsolver++", "solver_order": 2}, 10, {}),
    ("sde_dpmpp_3m", MS, {"algorithm_type": "sde-dpmsolver++", "solver_order": 3}, 10, {}),
    ("dpmpp_2s", SS, {**_PP, "solver_order": 2}, 10, {}),
    ("dpmpp_3s", SS, {**_PP, "solver_order": 3}, 10, {}),
    ("dpm_2s", SS, {**_DPM, "solver_order": 2}, 10, {}),
    ("dpm_3s", SS, {**_DPM, "solver_order": 3}, 10, {}),
    ("deis_1", DEIS, {"solver_order": 1}, 10, {}),
    ("deis_2", DEIS, {"solver_order": 2}, 10, {}),
    ("deis_3", DEIS, {"solver_order": 3}, 10, {}),
    # UniPC bh1 with final_sigmas_type="zero" (the default) returns NaN from its last
    # step in this diffusers version (B(h) = h = -inf times a zero correction), so the
    # bh1 cases end at sigma_min instead.
    ("unipc_bh1_2", UNIPC, {"solver_type": "bh1", "solver_order": 2, "final_sigmas_type": "sigma_min"}, 10, {}),
    ("unipc_bh1_3", UNIPC, {"solver_type": "bh1", "solver_order": 3, "final_sigmas_type": "sigma_min"}, 10, {}),
    ("unipc_bh2_1", UNIPC, {"solver_type": "bh2", "solver_order": 1}, 10, {}),
    ("unipc_bh2_2", UNIPC, {"solver_type": "bh2", "solver_order": 2}, 10, {}),
    ("unipc_bh2_3", UNIPC, {"solver_type": "bh2", "solver_order": 3}, 10, {}),
    # Dynamic thresholding: a 0.9 quantile of |x0| over each 8-element sample, capped at 1.5
    # (the means reach 2.5, so it clamps).
    ("dpmpp_2m_threshold", MS, {**_PP, "solver_order": 2, **_THR}, 10, {}),
    ("dpm_2m_threshold", MS, {**_DPM, "solver_order": 2, **_THR}, 10, {}),
    ("deis_2_threshold", DEIS, {"solver_order": 2, **_THR}, 10, {}),
    ("unipc_bh2_2_threshold", UNIPC, {"solver_type": "bh2", "solver_order": 2, **_THR}, 10, {}),
    # DDIM clips x0_hat to [-1, 1] by default (an image-space convention); the analytic
    # model's data lives outside that range, so clipping is switched off explicitly.
    ("ddim", DDIM, {"timestep_spacing": "leading", "clip_sample": False}, 10, {"eta": 0.0}),
    ("ddim_eta1", DDIM, {"timestep_spacing": "leading", "clip_sample": False}, 10, {"eta": 1.0}),
    ("euler", EULER, {}, 10, {}),
    ("euler_ancestral", EULER_A, {}, 10, {}),
    ("heun", HEUN, {}, 10, {}),
]

def _is_stochastic(cls_name, config, step_kwargs):
    """Whether the case's sampler draws noise inside step(); such cases get ito's noise."""
    if cls_name == "DPMSolverMultistepScheduler":
        return config.get("algorithm_type", "").startswith("sde-")
    if cls_name == "DDIMScheduler":
        return step_kwargs.get("eta", 0.0) > 0.0
    return cls_name == "EulerAncestralDiscreteScheduler"


# --------------------------------------------------------------------------- float64


class _Float32IsFloat64:
    """Stands in for the `torch` or `numpy` module inside a diffusers scheduler module:
    everything is the real module's, except that `float32` is float64."""

    def __init__(self, module, float64):
        object.__setattr__(self, "_module", module)
        object.__setattr__(self, "_float64", float64)

    def __getattr__(self, name):
        if name == "float32":
            return self._float64
        return getattr(self._module, name)


class _OnlyFloat64(TorchFunctionMode):
    """Raises if any torch function or tensor method returns a floating tensor that
    is not float64."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        stack = [out]
        while stack:
            o = stack.pop()
            if isinstance(o, torch.Tensor):
                if o.is_floating_point() and o.dtype != torch.float64:
                    raise AssertionError(f"{func} produced a {o.dtype} tensor")
            elif isinstance(o, (list, tuple)):
                stack.extend(o)
        return out


class _NoiseSource:
    """Replaces `randn_tensor` in the scheduler modules: hands out the noise queued
    for the current step() call and refuses to invent any."""

    def __init__(self):
        self.queued = None
        self.used = False

    def __call__(self, shape, generator=None, device=None, dtype=None, layout=None):
        if self.queued is None:
            raise AssertionError("scheduler asked for noise where none was queued")
        if tuple(shape) != tuple(self.queued.shape):
            raise AssertionError(f"noise shape {tuple(shape)} != {tuple(self.queued.shape)}")
        if dtype is not None and dtype != torch.float64:
            raise AssertionError(f"scheduler asked for {dtype} noise")
        self.used = True
        return self.queued.clone()


NOISE_SOURCE = _NoiseSource()


def load_module(mod_name):
    mod = importlib.import_module(f"diffusers.schedulers.{mod_name}")
    if not isinstance(mod.torch, _Float32IsFloat64):
        mod.torch = _Float32IsFloat64(torch, torch.float64)
    if not isinstance(mod.np, _Float32IsFloat64):
        mod.np = _Float32IsFloat64(np, np.float64)
    if hasattr(mod, "randn_tensor"):
        mod.randn_tensor = NOISE_SOURCE
    return mod


def float64_betas():
    return np.linspace(BETA_START, BETA_END, NUM_TRAIN, dtype=np.float64)


def force_float64_tables(sched, cls_name):
    """Replace the beta schedule and every table derived from it by float64 values
    computed from numpy float64 betas. Returns the float64 alphas_cumprod."""
    betas = float64_betas()
    alphas = 1.0 - betas
    ac = np.cumprod(alphas)
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))
    sched.betas = t(betas)
    sched.alphas = t(alphas)
    sched.alphas_cumprod = t(ac)
    vp_sigmas = np.sqrt((1.0 - ac) / ac)
    if hasattr(sched, "alpha_t"):
        sched.alpha_t = t(np.sqrt(ac))
    if hasattr(sched, "sigma_t"):
        sched.sigma_t = t(np.sqrt(1.0 - ac))
    if hasattr(sched, "lambda_t"):
        sched.lambda_t = torch.log(sched.alpha_t) - torch.log(sched.sigma_t)
    if hasattr(sched, "final_alpha_cumprod"):
        sched.final_alpha_cumprod = t(1.0 if sched.config.set_alpha_to_one else ac[0])
    if cls_name in ("EulerDiscreteScheduler", "EulerAncestralDiscreteScheduler"):
        # training-time table: descending sigmas followed by 0
        sched.sigmas = t(np.concatenate([vp_sigmas[::-1], [0.0]]))
    elif cls_name == "HeunDiscreteScheduler":
        # Heun builds its training-time tables with set_timesteps(1000) in __init__;
        # rebuild them from the float64 alphas_cumprod the same way.
        sched.set_timesteps(NUM_TRAIN, None, NUM_TRAIN)
    elif hasattr(sched, "sigmas"):
        sched.sigmas = t(vp_sigmas)
    check_float64_state(sched)
    return ac


def check_float64_state(sched):
    for name, v in vars(sched).items():
        if isinstance(v, torch.Tensor) and v.is_floating_point():
            if v.dtype != torch.float64:
                raise AssertionError(f"{type(sched).__name__}.{name} is {v.dtype}")
        elif isinstance(v, np.ndarray) and np.issubdtype(v.dtype, np.floating):
            if v.dtype != np.float64:
                raise AssertionError(f"{type(sched).__name__}.{name} is {v.dtype}")
    ts = sched.timesteps
    if ts.is_floating_point():
        assert ts.dtype == torch.float64, ts.dtype
    else:
        assert ts.dtype == torch.int64, ts.dtype


# ------------------------------------------------------------------------------ ito

_NORMALS_CACHE = {}


def ito_normals(repo, stream, step, n):
    """ito's normals N(SEED, stream, step, 0..n) as float64 (exactly the f32 values)."""
    key = (stream, step, n)
    if key not in _NORMALS_CACHE:
        cmd = [
            "cargo", "run", "--release", "--quiet", "--example", "print_normals", "--",
            str(SEED), str(stream), str(step), str(n),
        ]
        out = subprocess.run(cmd, cwd=repo, check=True, capture_output=True, text=True).stdout
        vals = [float(np.float32(tok)) for tok in out.split()]
        if len(vals) != n:
            raise RuntimeError(f"print_normals gave {len(vals)} values, wanted {n}")
        _NORMALS_CACHE[key] = vals
    return list(_NORMALS_CACHE[key])


# ---------------------------------------------------------------------------- model

# (batch, channels, rest): diffusers' thresholding needs a channel and a trailing dim, and
# treats each batch entry (here all N elements) as one sample.
SHAPE = (1, N, 1)
MU_T = torch.tensor(MU, dtype=torch.float64).reshape(SHAPE)
S2_T = torch.tensor(S, dtype=torch.float64).reshape(SHAPE) ** 2


def analytic_model(x_vp, alpha, sigma, prediction_type):
    d = alpha * alpha * S2_T + sigma * sigma
    r = (x_vp - alpha * MU_T) / d
    eps = sigma * r
    x0 = MU_T + alpha * S2_T * r
    if prediction_type == "epsilon":
        return eps
    if prediction_type == "sample":
        return x0
    if prediction_type == "v_prediction":
        return alpha * eps - sigma * x0
    raise ValueError(prediction_type)


def vp_from_ve(sigma_ve):
    alpha = 1.0 / math.sqrt(1.0 + sigma_ve * sigma_ve)
    return alpha, sigma_ve * alpha


# ---------------------------------------------------------------------- order probes

_ORDER_METHODS = {
    "dpm_solver_first_order_update": 1,
    "multistep_dpm_solver_second_order_update": 2,
    "multistep_dpm_solver_third_order_update": 3,
    "singlestep_dpm_solver_second_order_update": 2,
    "singlestep_dpm_solver_third_order_update": 3,
    "deis_first_order_update": 1,
    "multistep_deis_second_order_update": 2,
    "multistep_deis_third_order_update": 3,
}


def install_order_probes(sched, log):
    """Wrap the scheduler's update methods (on the instance) so that the order of the
    update each step() used is logged (and "C" for a UniPC corrector); used for the
    comments in the fixture only."""
    if hasattr(sched, "multistep_uni_c_bh_update"):
        orig_c = sched.multistep_uni_c_bh_update

        def corrector(*a, **kw):
            log.append("C")
            return orig_c(*a, **kw)

        sched.multistep_uni_c_bh_update = corrector
    for name, order in _ORDER_METHODS.items():
        if hasattr(sched, name):
            orig = getattr(sched, name)

            def wrapped(*a, __orig=orig, __order=order, **kw):
                log.append(__order)
                return __orig(*a, **kw)

            setattr(sched, name, wrapped)


# ----------------------------------------------------------------------------- run


def fmt(v):
    f = float(v)
    if not math.isfinite(f):
        raise AssertionError(f"non-finite value {f}")
    return repr(f)


def fmt_list(vals):
    return " ".join(fmt(v) for v in vals)


def fmt_config_value(v):
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    s = str(v)
    if any(c.isspace() for c in s):
        raise ValueError(f"config value with whitespace: {s!r}")
    return s


def run_case(repo, name, mod_cls, explicit, num_steps, step_kwargs):
    mod_name, cls_name = mod_cls
    mod = load_module(mod_name)
    cls = getattr(mod, cls_name)
    config = {**BASE, **explicit}
    sched = cls(**config)
    ac = force_float64_tables(sched, cls_name)
    with _OnlyFloat64():
        sched.set_timesteps(num_steps)
    check_float64_state(sched)

    prediction_type = sched.config.prediction_type
    stochastic = _is_stochastic(cls_name, config, step_kwargs)
    has_sigmas = hasattr(sched, "sigmas") and cls_name != "DDIMScheduler"
    # VE-form (x = x0 + sigma_ve*eps) samplers: model input is scale_model_input(x).
    init_sigma = float(sched.init_noise_sigma)

    timesteps = sched.timesteps
    z0 = ito_normals(repo, INIT_STREAM, 0, N)
    x = torch.tensor(z0, dtype=torch.float64).reshape(SHAPE) * init_sigma
    x_init = x.clone()

    orders = []
    install_order_probes(sched, orders)
    calls = []
    for c in range(len(timesteps)):
        t = timesteps[c]
        with _OnlyFloat64():
            x_in = sched.scale_model_input(x, t)
        if cls_name == "DDIMScheduler":
            abar = sched.alphas_cumprod[int(t)].item()
            alpha, sigma = math.sqrt(abar), math.sqrt(1.0 - abar)
            where = f"alphas_cumprod[{int(t)}]"
            idx = None
        else:
            idx = sched.step_index if sched.step_index is not None else sched.index_for_timestep(t)
            sigma_ve = sched.sigmas[idx].item()
            alpha, sigma = vp_from_ve(sigma_ve)
            where = f"sigmas[{idx}]"
        model_out = analytic_model(x_in, alpha, sigma, prediction_type)
        assert x_in.dtype == torch.float64 and model_out.dtype == torch.float64

        kwargs = dict(step_kwargs)
        noise = None
        NOISE_SOURCE.queued = None
        NOISE_SOURCE.used = False
        if stochastic:
            noise = torch.tensor(ito_normals(repo, NOISE_STREAM, c, N), dtype=torch.float64).reshape(SHAPE)
            if cls_name == "EulerAncestralDiscreteScheduler":
                NOISE_SOURCE.queued = noise  # it draws its noise through randn_tensor
            else:
                kwargs["variance_noise"] = noise

        n_orders = len(orders)
        with _OnlyFloat64():
            out = sched.step(model_out, t, x, **kwargs)
        step_log = orders[n_orders:]
        x_next = out.prev_sample
        assert x_next.dtype == torch.float64, x_next.dtype
        if cls_name == "EulerAncestralDiscreteScheduler":
            assert NOISE_SOURCE.used, "EulerAncestral did not draw its noise"
        NOISE_SOURCE.queued = None
        if idx is not None:
            assert sched.step_index == idx + 1, (sched.step_index, idx)

        note = f"timestep={fmt(t)} model at {where}"
        if cls_name == "UniPCMultistepScheduler":
            note += f" corrector={'C' in step_log} predictor_order={sched.this_order}"
        elif step_log:
            note += f" order={step_log[-1]}"
        if cls_name == "DPMSolverSinglestepScheduler":
            note += f" (order_list[{idx}]={sched.order_list[idx]})"
        if cls_name == "HeunDiscreteScheduler":
            if c == len(timesteps) - 1:
                note += " (final first-order Euler step to sigma 0)"
            elif not sched.state_in_first_order:
                note += " (first-order Euler predictor; derivative kept)"
            else:
                note += " (second-order Heun correction)"
        calls.append((c, alpha, sigma, model_out, noise, x_next, note))
        x = x_next

    check_float64_state(sched)
    effective = " ".join(f"{k}={fmt_config_value(v)}" for k, v in sorted(sched.config.items())
                         if not k.startswith("_") and v is not None and not isinstance(v, (list, dict)))
    lines = [
        "# Known-answer trajectory of a diffusers scheduler, float64; written by",
        "# scripts/make_fixtures.py (regenerate with scripts/make_fixtures.sh; do not edit).",
        f"# case {name}: analytic Gaussian model x0 ~ N(mu, s^2), prediction_type={prediction_type}.",
        f"# x_init = init_noise_sigma * ito normals (seed={SEED}, stream={INIT_STREAM}, step=0)."
        + (f" noise c = ito normals (seed={SEED}, stream={NOISE_STREAM}, step=c)." if stochastic else ""),
        "# model_alpha/model_sigma: VP-form point of each model call"
        + (" (alpha=1/sqrt(1+sigma_ve^2), sigma=sigma_ve*alpha from sigmas[i])." if has_sigmas
           else " (sqrt(abar_t), sqrt(1-abar_t) at the integer timestep)."),
        f"# effective config after set_timesteps: {effective}",
        f"scheduler {cls_name}",
        f"diffusers_version {diffusers.__version__}",
        f"torch_version {torch.__version__}",
        "config " + " ".join(f"{k}={fmt_config_value(v)}" for k, v in config.items()),
        f"num_inference_steps {num_steps}",
        f"alphas_cumprod {fmt_list(ac)}",
        f"timesteps {fmt_list(timesteps.tolist())}",
    ]
    if has_sigmas:
        lines.append(f"sigmas {fmt_list(sched.sigmas.tolist())}")
    lines += [
        f"init_noise_sigma {fmt(init_sigma)}",
        f"mu {fmt_list(MU)}",
        f"s {fmt_list(S)}",
        f"x_init {fmt_list(x_init.flatten().tolist())}",
    ]
    for c, alpha, sigma, model_out, noise, x_next, note in calls:
        lines.append(f"# call {c}: {note}")
        lines.append(f"model_alpha {c} {fmt(alpha)}")
        lines.append(f"model_sigma {c} {fmt(sigma)}")
        lines.append(f"model_out {c} {fmt_list(model_out.flatten().tolist())}")
        if noise is not None:
            lines.append(f"noise {c} {fmt_list(noise.flatten().tolist())}")
        lines.append(f"x {c} {fmt_list(x_next.flatten().tolist())}")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="tests/data/diffusers", help="output directory")
    ap.add_argument("--repo", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."),
                    help="ito repository root (for cargo run --example print_normals)")
    ap.add_argument("--only", nargs="*", help="case names to generate (default: all)")
    ap.add_argument("--allow-other-versions", action="store_true")
    args = ap.parse_args()

    found = {"diffusers": diffusers.__version__, "torch": torch.__version__.split("+")[0],
             "numpy": np.__version__}
    if found != PINNED and not args.allow_other_versions:
        sys.exit(f"version mismatch: found {found}, pinned {PINNED} (use make_fixtures.sh)")

    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    os.makedirs(args.out, exist_ok=True)
    repo = os.path.abspath(args.repo)
    for name, mod_cls, explicit, steps, step_kwargs in CASES:
        if args.only and name not in args.only:
            continue
        text = run_case(repo, name, mod_cls, explicit, steps, step_kwargs)
        path = os.path.join(args.out, f"{name}.txt")
        with open(path, "w", encoding="ascii", newline="\n") as f:
            f.write(text)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
