"""Generate a known-answer DPM-Solver++(2M) trajectory from k-diffusion, in float64.

What it does
------------
Runs k-diffusion's own ``k_diffusion.sampling.sample_dpmpp_2m`` (Katherine Crowson's
implementation, the one ComfyUI and A1111 use) on an analytic Gaussian denoiser and
writes the whole trajectory to ``capi/tests/data/kdiffusion_dpmpp_2m.txt``, which a C-API
test replays step by step against ito's DPM-Solver++(2M).

The problem (the C side re-creates it from the numbers in the file):

* n = 16 elements; element i (0-based) has data x0_i ~ N(mu_i, s_i^2) with
  mu_i = -1.5 + 0.2*i and s_i = 0.3 + 0.05*i (Python float arithmetic).
* k-diffusion / EDM (VE) form x = x0 + sigma*eps, so the exact denoiser is, elementwise,
  D(x, sigma) = (s^2*x + sigma^2*mu) / (s^2 + sigma^2).
* sigmas = get_sigmas_karras(n=10, sigma_min=0.002, sigma_max=80.0, rho=7.0) with torch's
  default dtype set to float64 (it builds its ramp with ``torch.linspace(0, 1, n)`` in the
  default dtype, then appends a 0): 11 values, sigmas[10] = 0.
* x_init = sigmas[0] * z, z = numpy.random.Generator(numpy.random.PCG64(20261202))
  .standard_normal(16) (float64), as a [1, 16] tensor (the sampler needs a batch axis:
  it calls the model with ``sigmas[i] * x.new_ones([x.shape[0]])``, shape [1]).
* ``sample_dpmpp_2m(model, x_init, sigmas, disable=True, callback=cb)``.

The algorithm, as k-diffusion 0.1.1.post1 writes it (t = -log(sigma),
sigma_fn(t) = exp(-t), D_i = D(x_i, sigmas[i])):

    for i in 0..9:
        h = t(sigmas[i+1]) - t(sigmas[i])
        if i == 0 or sigmas[i+1] == 0:                     # first order
            x_{i+1} = (sigma_fn(t_{i+1}) / sigma_fn(t_i)) * x_i - expm1(-h) * D_i
        else:                                              # second order, multistep
            r = (t_i - t_{i-1}) / h
            D' = (1 + 1/(2r)) * D_i - (1/(2r)) * D_{i-1}
            x_{i+1} = (sigma_fn(t_{i+1}) / sigma_fn(t_i)) * x_i - expm1(-h) * D'

So step 1 and the last step are first order (DPM-Solver++(1)); the last step, to
sigma = 0, has t = +inf, h = +inf, sigma_fn = 0 and expm1(-h) = -1, i.e. it returns
D(x_9, sigmas[9]) exactly (checked bit for bit). Steps 2..9 are the midpoint-form 2M
update (the same as diffusers' DPMSolverMultistepScheduler with
algorithm_type="dpmsolver++", solver_order=2, solver_type="midpoint"). Note that the
ratio is computed as exp(log sigma_{i+1}) / exp(log sigma_i), not sigma_{i+1}/sigma_i,
so an implementation that uses the plain ratio differs in the last few ulps.

The callback is called *before* each update with {'x': x_i, 'i': i, 'sigma': sigmas[i],
'sigma_hat': sigmas[i], 'denoised': D_i}: its 'x' is the state the step starts from, not
the state it produces. The script therefore takes x_1..x_9 from callbacks i = 1..9 and
x_10 from the sampler's return value (and checks callback 0's 'x' is x_init).

Checks before anything is written: every floating tensor that torch produces inside
get_sigmas_karras and sample_dpmpp_2m is float64 (a TorchFunctionMode raises
otherwise), as is every tensor passing through the model and the callback; the
trajectory agrees with an independent plain-numpy float64 implementation of the
formula above to 1e-12 (relative to max(1, |x|)); the Karras sigmas agree with a numpy
recomputation to 1e-13 relative; the last state equals D(x_9, sigmas[9]) exactly; every
value is finite and every final element lies within 6 s_i of mu_i. It also prints the
largest deviation of x_10 from the exact probability-flow-ODE solution
mu + (x_init - mu) * s / sqrt(s^2 + sigmas[0]^2) (information only: 10 steps of a
second-order solver are not exact).

Importing k-diffusion
---------------------
``k_diffusion/__init__.py`` imports every submodule, and with them clip-anytorch,
clean-fid, kornia, scikit-image, dctorch, einops, jsonmerge, wandb, accelerate (the
package's full Requires-Dist). None of that is needed for sampling, and pinning a dozen
unrelated, partly network-facing packages (wandb, clean-fid) is far more fragile than
skipping the package __init__. So this script registers a bare package object named
``k_diffusion`` whose ``__path__`` is the installed package directory and then imports
``k_diffusion.sampling`` normally: sampling.py and the utils.py it imports run
unmodified, from the installed wheel. Their imports need scipy, torchdiffeq, torchsde
(+ trampoline), tqdm, Pillow, safetensors and torchvision (utils.py imports
torchvision.transforms.functional at module level); tqdm, Pillow and safetensors are
already in the diffusers environment. make_kdiffusion_fixture.sh installs k-diffusion
and the rest with ``pip --no-deps --target target/fixtures-venv/kdiffusion-lib`` (exact
pins, below) and puts that folder on PYTHONPATH, so the shared diffusers environment's
own site-packages stay exactly as scripts/venv.sh makes them.

How to run
----------
    bash scripts/make_kdiffusion_fixture.sh

which creates or reuses ``target/fixtures-venv`` (scripts/venv.sh), adds the folder
above, and then runs, from the repository root,

    PYTHONPATH=target/fixtures-venv/kdiffusion-lib target/fixtures-venv/bin/python \\
        scripts/make_kdiffusion_fixture.py --out capi/tests/data/kdiffusion_dpmpp_2m.txt

Output is byte-for-byte deterministic (torch runs single-threaded on the CPU).

Pinned versions
---------------
    k-diffusion == 0.1.1.post1
    torch       == 2.15.0   (PyPI wheel, CPU only is fine; see scripts/venv.sh)
    numpy       == 2.4.6
    scipy       == 1.17.1
    torchsde    == 0.2.6
    torchdiffeq == 0.2.5
    trampoline  == 0.1.2
    torchvision == 0.29.2   (only imported, never used)
The script refuses to run with other versions unless ``--allow-other-versions``.

Output format
-------------
Plain ASCII text, like tests/data/diffusers/*.txt: lines starting with ``#`` are
comments (versions, the problem, the command); every other line is a record, a name
followed by whitespace-separated values, floats written with ``repr(float(v))``:

    n 16
    mu <16 values>
    s <16 values>
    sigmas <11 values>
    x_init <16 values>
    x_1 <16 values>       state after step 1 (at sigmas[1])
    ...
    x_10 <16 values>      state after the last step (at sigmas[10] = 0)
"""

import argparse
import importlib.metadata
import importlib.util
import math
import os
import sys
import types

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

PINNED = {
    "k-diffusion": "0.1.1.post1",
    "torch": "2.15.0",
    "numpy": "2.4.6",
    "scipy": "1.17.1",
    "torchsde": "0.2.6",
    "torchdiffeq": "0.2.5",
    "trampoline": "0.1.2",
    "torchvision": "0.29.2",
}

N = 16
MU = [-1.5 + 0.2 * i for i in range(N)]
S = [0.3 + 0.05 * i for i in range(N)]
SEED = 20261202
STEPS = 10
SIGMA_MIN = 0.002
SIGMA_MAX = 80.0
RHO = 7.0

COMMAND = "bash scripts/make_kdiffusion_fixture.sh"


def import_sampling():
    """Imports k_diffusion.sampling without running k_diffusion/__init__.py (see the
    module docstring)."""
    if "k_diffusion" in sys.modules:
        raise AssertionError("k_diffusion already imported")
    spec = importlib.util.find_spec("k_diffusion")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("k_diffusion is not installed (use scripts/make_kdiffusion_fixture.sh)")
    pkg = types.ModuleType("k_diffusion")
    pkg.__path__ = list(spec.submodule_search_locations)
    pkg.__file__ = spec.origin
    sys.modules["k_diffusion"] = pkg
    import k_diffusion.sampling as sampling

    return sampling


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


def fmt(v):
    f = float(v)
    if not math.isfinite(f):
        raise AssertionError(f"non-finite value {f}")
    return repr(f)


def fmt_list(vals):
    return " ".join(fmt(v) for v in vals)


def check64(t, what):
    assert isinstance(t, torch.Tensor), (what, type(t))
    assert t.dtype == torch.float64, f"{what}: {t.dtype}"


# ------------------------------------------------------------------ numpy reference


def numpy_denoiser(x, sigma, mu, s):
    return (s * s * x + sigma * sigma * mu) / (s * s + sigma * sigma)


def numpy_karras(n, sigma_min, sigma_max, rho):
    ramp = np.linspace(0.0, 1.0, n, dtype=np.float64)
    min_inv_rho = sigma_min ** (1.0 / rho)
    max_inv_rho = sigma_max ** (1.0 / rho)
    return np.append((max_inv_rho + ramp * (min_inv_rho - max_inv_rho)) ** rho, 0.0)


def numpy_dpmpp_2m(x, sigmas, mu, s):
    """DPM-Solver++(2M) exactly as k-diffusion 0.1.1.post1 writes it, in numpy float64.
    Returns [x_1, ..., x_len(sigmas)-1]."""
    with np.errstate(divide="ignore"):  # log(0) = -inf for the last step
        t = -np.log(sigmas)
    out = []
    old = None
    for i in range(len(sigmas) - 1):
        d = numpy_denoiser(x, sigmas[i], mu, s)
        h = t[i + 1] - t[i]
        ratio = np.exp(-t[i + 1]) / np.exp(-t[i])
        if old is None or sigmas[i + 1] == 0:
            x = ratio * x - np.expm1(-h) * d
        else:
            r = (t[i] - t[i - 1]) / h
            dd = (1 + 1 / (2 * r)) * d - (1 / (2 * r)) * old
            x = ratio * x - np.expm1(-h) * dd
        old = d
        out.append(x)
    return out


# ----------------------------------------------------------------------------- run


def run(sampling):
    mu_np = np.array(MU, dtype=np.float64)
    s_np = np.array(S, dtype=np.float64)
    mu = torch.tensor(MU, dtype=torch.float64).reshape(1, N)
    s = torch.tensor(S, dtype=torch.float64).reshape(1, N)

    with _OnlyFloat64():
        sigmas = sampling.get_sigmas_karras(n=STEPS, sigma_min=SIGMA_MIN, sigma_max=SIGMA_MAX, rho=RHO)
    check64(sigmas, "sigmas")
    assert sigmas.shape == (STEPS + 1,) and sigmas[-1].item() == 0.0, sigmas
    sig_np = numpy_karras(STEPS, SIGMA_MIN, SIGMA_MAX, RHO)
    sig_err = np.max(np.abs(sigmas.numpy() - sig_np) / np.maximum(sig_np, 1e-300))
    assert sig_err < 1e-13, f"Karras sigmas differ from numpy by {sig_err}"

    z = np.random.Generator(np.random.PCG64(SEED)).standard_normal(N)
    assert z.dtype == np.float64
    x_init = sigmas[0] * torch.from_numpy(z).reshape(1, N)
    check64(x_init, "x_init")

    model_calls = []

    def model(x, sigma):
        check64(x, "model x")
        check64(sigma, "model sigma")
        assert x.shape == (1, N) and sigma.shape == (1,), (x.shape, sigma.shape)
        sg = sigma[:, None]
        d = (s * s * x + sg * sg * mu) / (s * s + sg * sg)
        check64(d, "model output")
        model_calls.append((sigma.item(), x.clone(), d.clone()))
        return d

    seen = []

    def callback(info):
        for k in ("x", "sigma", "sigma_hat", "denoised"):
            check64(info[k], f"callback {k}")
        seen.append((info["i"], info["sigma"].item(), info["x"].clone(), info["denoised"].clone()))

    with torch.no_grad(), _OnlyFloat64():
        x_final = sampling.sample_dpmpp_2m(model, x_init.clone(), sigmas, disable=True, callback=callback)
    check64(x_final, "sampler result")

    # Callback semantics: called before the update of step i with x_i (x_0 = x_init).
    sig = sigmas.tolist()
    assert [c[0] for c in seen] == list(range(STEPS)), [c[0] for c in seen]
    assert len(model_calls) == STEPS
    for i, (ci, csig, cx, cd) in enumerate(seen):
        assert csig == sig[i] == model_calls[i][0], (i, csig, sig[i])
        assert torch.equal(cx, model_calls[i][1]) and torch.equal(cd, model_calls[i][2]), i
    assert torch.equal(seen[0][2], x_init), "callback 0 'x' is not x_init"
    traj = [seen[i][2] for i in range(1, STEPS)] + [x_final]

    # The last step (to sigma 0) returns the denoiser output at sigmas[STEPS-1] exactly.
    assert torch.equal(x_final, seen[STEPS - 1][3]), "last step is not D(x_9, sigma_9)"

    # Independent numpy replay of the formula.
    ref = numpy_dpmpp_2m(x_init.numpy().reshape(N).copy(), np.array(sig), mu_np, s_np)
    worst = 0.0
    for i, (a, b) in enumerate(zip(traj, ref), start=1):
        a = a.numpy().reshape(N)
        err = float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b))))
        assert err < 1e-12, f"x_{i} differs from the numpy reference by {err}"
        worst = max(worst, err)

    # Plausibility of the sample, and distance to the exact probability-flow solution.
    xf = x_final.numpy().reshape(N)
    assert np.all(np.isfinite(xf))
    zscore = (xf - mu_np) / s_np
    assert np.all(np.abs(zscore) < 6.0), zscore
    exact = mu_np + (x_init.numpy().reshape(N) - mu_np) * s_np / np.sqrt(s_np**2 + sig[0] ** 2)
    ode_err = float(np.max(np.abs(xf - exact)))
    print(f"numpy reference: max rel diff {worst:.3g}; sigmas vs numpy {sig_err:.3g}; "
          f"|x_10 - exact ODE solution| max {ode_err:.3g}; "
          f"(x_10 - mu)/s in [{zscore.min():.3f}, {zscore.max():.3f}]", file=sys.stderr)

    v = {name: importlib.metadata.version(name) for name in PINNED}
    v["torch"] = torch.__version__
    v["torchvision"] = importlib.metadata.version("torchvision")
    lines = [
        "# Known-answer DPM-Solver++(2M) trajectory from k-diffusion, float64; written by",
        "# scripts/make_kdiffusion_fixture.py (regenerate with scripts/make_kdiffusion_fixture.sh;",
        "# do not edit).",
        "# versions: " + " ".join(f"{k}=={v[k]}" for k in PINNED),
        f"# command: {COMMAND}",
        "# problem: x0_i ~ N(mu_i, s_i^2), mu_i = -1.5 + 0.2*i, s_i = 0.3 + 0.05*i (i = 0..15);",
        "#   VE form x = x0 + sigma*eps; exact denoiser D(x, sigma) = (s^2*x + sigma^2*mu)/(s^2 + sigma^2).",
        f"# sigmas = k_diffusion.sampling.get_sigmas_karras(n={STEPS}, sigma_min={SIGMA_MIN}, "
        f"sigma_max={SIGMA_MAX}, rho={RHO}) in float64 (trailing 0 appended).",
        f"# x_init = sigmas[0] * numpy.random.Generator(numpy.random.PCG64({SEED})).standard_normal({N}).",
        "# x_k = state after step k = k_diffusion.sampling.sample_dpmpp_2m(model, x_init, sigmas),",
        "#   at sigmas[k]; steps 1 and 10 are first order, x_10 = D(x_9, sigmas[9]) exactly.",
        f"n {N}",
        f"mu {fmt_list(MU)}",
        f"s {fmt_list(S)}",
        f"sigmas {fmt_list(sig)}",
        f"x_init {fmt_list(x_init.reshape(N).tolist())}",
    ]
    for k, x in enumerate(traj, start=1):
        check64(x, f"x_{k}")
        lines.append(f"x_{k} {fmt_list(x.reshape(N).tolist())}")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="capi/tests/data/kdiffusion_dpmpp_2m.txt", help="output file")
    ap.add_argument("--allow-other-versions", action="store_true")
    args = ap.parse_args()

    found = {}
    for name in PINNED:
        try:
            found[name] = importlib.metadata.version(name).split("+")[0]
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    if found != PINNED and not args.allow_other_versions:
        sys.exit(f"version mismatch: found {found}, pinned {PINNED} (use make_kdiffusion_fixture.sh)")

    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    sampling = import_sampling()
    text = run(sampling)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="ascii", newline="\n") as f:
        f.write(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
