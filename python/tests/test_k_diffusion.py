"""ito.k_diffusion against k-diffusion 0.1.1.post1's own samplers (where torch and k-diffusion
are installed: scripts/make_kdiffusion_fixture.sh's environment), on an analytic Gaussian
denoiser: the deterministic samplers to float tolerance, the stochastic ones given ito's noise
through k-diffusion's noise_sampler."""

import importlib.util
import sys
import types

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ito  # noqa: E402
from ito import k_diffusion as ikd  # noqa: E402


def kdiffusion_sampling():
    """k_diffusion.sampling without k_diffusion/__init__.py (which imports clip, wandb, …)."""
    if "k_diffusion.sampling" in sys.modules:
        return sys.modules["k_diffusion.sampling"]
    spec = importlib.util.find_spec("k_diffusion")
    if spec is None:
        pytest.skip("k-diffusion is not installed (scripts/make_kdiffusion_fixture.sh)")
    pkg = types.ModuleType("k_diffusion")
    pkg.__path__ = list(spec.submodule_search_locations)
    sys.modules.setdefault("k_diffusion", pkg)
    import k_diffusion.sampling as sampling

    return sampling


N = 4 * 300
MU = torch.tensor(-1.5 + 0.2 * (np.arange(N) % 16), dtype=torch.float64).reshape(4, 300)
S = torch.tensor(0.3 + 0.05 * (np.arange(N) % 16), dtype=torch.float64).reshape(4, 300)


def denoiser(x, sigma):
    """Exact x0 for data N(mu, s^2) at noise level sigma (one per batch row)."""
    sig = sigma.reshape(-1, 1).to(torch.float64)
    x64 = x.to(torch.float64)
    return ((S * S * x64 + sig * sig * MU) / (S * S + sig * sig)).to(x.dtype)


def start(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(4, 300, generator=g, dtype=torch.float64) * 80.0


def sigmas(n=12):
    return kdiffusion_sampling().get_sigmas_karras(n, 0.002, 80.0, 7.0).to(torch.float64)


def ito_noise(seed, like):
    """k-diffusion noise_sampler giving the normals ito's step i draws (ito.noise_address)."""
    sig = sigmas()

    def sample(sigma, sigma_next):
        i = int(torch.nonzero(sig == sigma)[0, 0])
        z = torch.empty(like.shape, dtype=torch.float32)
        a = ito.noise_address("step", seed=seed, step=i, len=like.numel())
        ito.fill_normal(z, seed=a[0], stream=a[1], step=a[2], offset=a[3])
        return z.to(like.dtype)

    return sample


@pytest.mark.parametrize("name", ["sample_euler", "sample_heun", "sample_dpmpp_2m"])
def test_deterministic_samplers_follow_k_diffusion(name):
    kd = kdiffusion_sampling()
    x0 = start()
    want = getattr(kd, name)(denoiser, x0.clone(), sigmas(), disable=True)
    steps = []
    got = getattr(ikd, name)(denoiser, x0.to(torch.float32), sigmas(),
                             callback=lambda d: steps.append(d["i"]))
    assert steps == list(range(len(sigmas()) - 1))
    err = ((got.to(torch.float64) - want).abs() / (1 + want.abs())).max().item()
    assert err < 2e-6, err


STOCHASTIC = ["sample_euler_ancestral", "sample_dpmpp_2m_sde", "sample_dpmpp_3m_sde",
              "sample_dpmpp_2s_ancestral"]


def tolerance(name):
    """Float tolerance against a float64 k-diffusion run. The third-order step folds D0, D1,
    D2 into one pass with f32 coefficients whose sizes (≈ 10 at the small-σ end) exceed the
    update's: a few ulp of x more than the others."""
    return 5e-6 if name == "sample_dpmpp_3m_sde" else 2e-6


@pytest.mark.parametrize("name", STOCHASTIC)
def test_stochastic_samplers_follow_k_diffusion_given_the_same_noise(name):
    kd = kdiffusion_sampling()
    x0 = start(1)
    want = getattr(kd, name)(denoiser, x0.clone(), sigmas(), disable=True,
                             noise_sampler=ito_noise(5, x0))
    got = getattr(ikd, name)(denoiser, x0.to(torch.float32), sigmas(), seed=5)
    err = ((got.to(torch.float64) - want).abs() / (1 + want.abs())).max().item()
    assert err < tolerance(name), err


def test_3m_sde_warms_up_as_k_diffusion_does():
    """On a short grid from σ = 2 the second-order warm-up step matters: ito's
    sde-dpmpp-3m-heun plan (D1 weighed by φ2, as k-diffusion) follows k-diffusion; diffusers'
    midpoint warm-up (sde-dpmpp-3m) would not."""
    kd = kdiffusion_sampling()
    sig = kd.get_sigmas_karras(8, 0.002, 2.0, 7.0).to(torch.float64)
    x0 = start(1) / 40

    def noise(sigma, sigma_next):
        z = torch.empty(x0.shape, dtype=torch.float32)
        a = ito.noise_address("step", seed=5, step=int(torch.nonzero(sig == sigma)[0, 0]),
                              len=x0.numel())
        ito.fill_normal(z, seed=a[0], stream=a[1], step=a[2], offset=a[3])
        return z.to(torch.float64)

    want = kd.sample_dpmpp_3m_sde(denoiser, x0.clone(), sig, disable=True, noise_sampler=noise)
    errs = {}
    for solver in ["sde-dpmpp-3m-heun", "sde-dpmpp-3m"]:
        got = ikd._sample(solver, denoiser, x0.to(torch.float32), sig, None, None, 5, 0, 0)
        errs[solver] = ((got.to(torch.float64) - want).abs() / (1 + want.abs())).max().item()
    assert errs["sde-dpmpp-3m-heun"] < 5e-6 and errs["sde-dpmpp-3m"] > 1e-2, errs


def test_ancestral_2s_takes_any_eta_s_noise_and_noise_sampler():
    kd = kdiffusion_sampling()
    x0 = start(3)
    # eta = 3 takes σ_down to 0 on early steps while σ_next > 0: Euler to x₀, plus σ_up·z
    for eta, s_noise in [(0.5, 0.8), (0.0, 1.0), (3.0, 1.0)]:
        want = kd.sample_dpmpp_2s_ancestral(denoiser, x0.clone(), sigmas(), disable=True, eta=eta,
                                            s_noise=s_noise, noise_sampler=ito_noise(6, x0))
        # ito's own step noise, and the same normals handed in through a noise sampler
        for ns in [None, ito_noise(6, x0)]:
            got = ikd.sample_dpmpp_2s_ancestral(denoiser, x0.to(torch.float32), sigmas(), eta=eta,
                                                s_noise=s_noise, noise_sampler=ns, seed=6)
            err = ((got.to(torch.float64) - want).abs() / (1 + want.abs())).max().item()
            assert err < 2e-6, (eta, s_noise, ns is None, err)


@pytest.mark.parametrize("name", STOCHASTIC)
def test_the_tree_noise_sampler_drives_stock_k_diffusion_and_ito_alike(name):
    """Stock k-diffusion calling ito's BrownianTreeNoiseSampler, and ito's fused sampler drawing
    from the same tree inside its pass: the same trajectory."""
    kd = kdiffusion_sampling()
    x0 = start(4)
    sig = sigmas()
    ns = ikd.BrownianTreeNoiseSampler(x0, sig[sig > 0].min(), sig.max(), seed=11)
    want = getattr(kd, name)(denoiser, x0.clone(), sig, disable=True, noise_sampler=ns)
    x32 = x0.to(torch.float32)
    ns32 = ikd.BrownianTreeNoiseSampler(x32, sig[sig > 0].min(), sig.max(), seed=11)
    got = getattr(ikd, name)(denoiser, x32, sig, noise_sampler=ns32)
    err = ((got.to(torch.float64) - want).abs() / (1 + want.abs())).max().item()
    assert err < tolerance(name), err
    # a different tree seed gives a different path
    other = getattr(ikd, name)(denoiser, x32, sig, noise_sampler=ikd.BrownianTreeNoiseSampler(
        x32, sig[sig > 0].min(), sig.max(), seed=12))
    assert (other - got).abs().max().item() > 1e-3


def test_the_tree_noise_sampler_is_one_brownian_path_and_splits_by_offset():
    sig = sigmas()
    x = torch.zeros(8, 4096)
    ns = ikd.BrownianTreeNoiseSampler(x, 0.002, 80.0, seed=3)
    assert ns.tree.depth == 27  # torchsde's tolerance, 1e-6, over [0.002, 80]
    z = ns(sig[2], sig[3])
    assert z.shape == x.shape and z.dtype == x.dtype
    assert abs(z.mean().item()) < 0.01 and abs(z.var().item() - 1) < 0.02
    # increments over [σ3, σ2] and [σ2, σ1] add up to the one over [σ3, σ1]
    w = lambda a, b: ns(a, b).to(torch.float64) * (a - b).to(torch.float64).sqrt()  # noqa: E731
    assert (w(sig[1], sig[2]) + w(sig[2], sig[3]) - w(sig[1], sig[3])).abs().max().item() < 1e-4
    # the same call twice, and a batch split with offsets: the same bits
    assert torch.equal(z, ns(sig[2], sig[3]))
    half = ikd.BrownianTreeNoiseSampler(x[4:], 0.002, 80.0, seed=3, offset=4 * 4096)
    assert torch.equal(half(sig[2], sig[3]), z[4:])
    # float16: the same path, stored in half precision
    h = ikd.BrownianTreeNoiseSampler(x.half(), 0.002, 80.0, seed=3)(sig[2], sig[3])
    assert h.dtype == torch.float16 and (h.float() - z).abs().max().item() < 5e-3


@pytest.mark.parametrize("name", STOCHASTIC)
def test_any_noise_sampler_is_called_as_k_diffusion_calls_it(name):
    """k-diffusion's default noise sampler (torch.randn_like on torch's global generator) and a
    transformed tree: called in the same order as stock k-diffusion calls them, so the same
    seed gives the same trajectory."""
    kd = kdiffusion_sampling()
    x0 = start(5).to(torch.float32)
    sig = sigmas().to(torch.float32)
    torch.manual_seed(123)
    want = getattr(kd, name)(denoiser, x0.clone(), sig, disable=True,
                             noise_sampler=kd.default_noise_sampler(x0))
    torch.manual_seed(123)
    got = getattr(ikd, name)(denoiser, x0.clone(), sig, noise_sampler=kd.default_noise_sampler(x0))
    err = ((got - want).abs() / (1 + want.abs())).max().item()
    assert err < 1e-5, err
    log = lambda: ikd.BrownianTreeNoiseSampler(x0, sig[-2], sig[0], seed=1,  # noqa: E731
                                               transform=lambda s: -s.log())
    want = getattr(kd, name)(denoiser, x0.clone(), sig, disable=True, noise_sampler=log())
    got = getattr(ikd, name)(denoiser, x0.clone(), sig, noise_sampler=log())
    err = ((got - want).abs() / (1 + want.abs())).max().item()
    assert err < 1e-5, err


def test_noise_samplers_ito_cannot_use_are_refused():
    x0 = start().to(torch.float32)
    sig = sigmas()
    with pytest.raises(ValueError, match="noise_sampler"):
        ikd.sample_dpmpp_2m_sde(denoiser, x0, sig, noise_sampler=42)
    small = ikd.BrownianTreeNoiseSampler(x0[:2], 0.002, 80.0, seed=1)
    with pytest.raises(ValueError, match="elements"):
        ikd.sample_dpmpp_3m_sde(denoiser, x0, sig, noise_sampler=small)
    narrow = ikd.BrownianTreeNoiseSampler(x0, 0.1, 80.0, seed=1)
    with pytest.raises(ValueError, match="noise_tree"):
        ikd.sample_dpmpp_2m_sde(denoiser, x0, sig, noise_sampler=narrow)
    with pytest.raises(ValueError, match="seed"):
        ikd.BrownianTreeNoiseSampler(x0, 0.002, 80.0, seed=[1, 2, 3, 4])


@pytest.mark.parametrize("name", ["sample_dpmpp_2m", "sample_heun"])
def test_sigmas_that_stop_above_zero_keep_their_order(name):
    kd = kdiffusion_sampling()
    x0 = start(2)
    part = sigmas()[:-3]  # ComfyUI-style split sigmas: the run stops at a positive level
    want = getattr(kd, name)(denoiser, x0.clone(), part, disable=True)
    got = getattr(ikd, name)(denoiser, x0.to(torch.float32), part)
    err = ((got.to(torch.float64) - want).abs() / (1 + want.abs())).max().item()
    assert err < 2e-6, err


def test_the_input_is_left_alone_and_bad_arguments_raise():
    x0 = start().to(torch.float32)
    before = x0.clone()
    ikd.sample_dpmpp_2m(denoiser, x0, sigmas())
    assert torch.equal(x0, before)
    with pytest.raises(ValueError, match="s_churn"):
        ikd.sample_euler(denoiser, x0, sigmas(), s_churn=1.0)
    with pytest.raises(ValueError, match="noise_sampler"):
        ikd.sample_euler_ancestral(denoiser, x0, sigmas(), noise_sampler="randn")
    with pytest.raises(ValueError, match="eta"):
        ikd.sample_dpmpp_3m_sde(denoiser, x0, sigmas(), eta=0.0)
    with pytest.raises(ValueError, match="eta"):
        ikd.sample_dpmpp_2m_sde(denoiser, x0, sigmas(), eta=0.5)
    with pytest.raises(ValueError, match="sigmas"):
        ikd.sample_dpmpp_2m(denoiser, x0, torch.zeros(5))


@pytest.mark.parametrize("nfe", [7, 9, 10])
def test_dpm_fast_follows_k_diffusion(nfe):
    """DPM-Solver-fast's order schedule (n ≡ 1, 0, 1 mod 3 over 3, 4, 4 steps) and its
    third-order steps with intermediate points, against k-diffusion's own."""
    kd = kdiffusion_sampling()
    x0 = start(6)
    evals = []

    def counting(x, sigma):
        evals.append(float(sigma[0]))
        return denoiser(x, sigma)

    want = kd.sample_dpm_fast(denoiser, x0.clone(), 0.002, 80.0, nfe, disable=True)
    got = ikd.sample_dpm_fast(counting, x0.to(torch.float32), 0.002, 80.0, nfe)
    assert len(evals) == nfe
    rel = lambda a: ((a.to(torch.float64) - want).abs() / (1 + want.abs())).max().item()  # noqa: E731
    # The ε form over steps this long is ill-conditioned in f32: k-diffusion's own float32
    # run is 6e-6 … 2e-4 off its float64 one. ito's f32 state stays within a few times that
    # (a wrong coefficient would be off by 1e-3 or more).
    own = rel(kd.sample_dpm_fast(denoiser, x0.to(torch.float32), 0.002, 80.0, nfe, disable=True))
    err = rel(got)
    assert err < max(4 * own, 5e-6), (err, own)
    # with noise: k-diffusion handed ito's step normals through its noise sampler
    sig_fast = None

    def noise(sigma, sigma_next):
        nonlocal sig_fast
        m = nfe // 3 + 1
        if sig_fast is None:
            ts = torch.linspace(-torch.tensor(80.0).log(), -torch.tensor(0.002).log(), m + 1)
            sig_fast = [float(v) for v in ts.neg().exp()]
        i = min(range(m), key=lambda k: abs(sig_fast[k] - float(sigma)))
        z = torch.empty(x0.shape, dtype=torch.float32)
        a = ito.noise_address("step", seed=4, step=i, len=z.numel())
        ito.fill_normal(z, seed=a[0], stream=a[1], step=a[2], offset=a[3])
        return z.to(torch.float64)

    want = kd.sample_dpm_fast(denoiser, x0.clone(), 0.002, 80.0, nfe, disable=True, eta=0.5,
                              noise_sampler=noise)
    own = rel(kd.sample_dpm_fast(denoiser, x0.to(torch.float32), 0.002, 80.0, nfe, disable=True,
                                 eta=0.5, noise_sampler=noise))
    got = ikd.sample_dpm_fast(denoiser, x0.to(torch.float32), 0.002, 80.0, nfe, eta=0.5, seed=4)
    err = rel(got)
    assert err < max(4 * own, 5e-6), (err, own)
    # ito's own noise differs from none: the noise went in
    plain = ikd.sample_dpm_fast(denoiser, x0.to(torch.float32), 0.002, 80.0, nfe)
    assert (plain - got).abs().max().item() > 1e-3


@pytest.mark.parametrize("order,rtol,atol", [(2, 0.05, 0.0078), (3, 0.05, 0.0078), (3, 0.01, 0.001)])
def test_dpm_adaptive_takes_k_diffusions_steps(order, rtol, atol):
    """DPM-Solver-12/23: the same accepted and rejected attempts as k-diffusion's
    sample_dpm_adaptive (run in float32, as ito's state), the same evaluations, and the same
    result to float tolerance; tighter tolerances take more evaluations."""
    kd = kdiffusion_sampling()
    x0 = start(7)
    runs = [kd.sample_dpm_adaptive(denoiser, x, 0.002, 80.0, disable=True, order=order, rtol=rtol,
                                   atol=atol, return_info=True) for x in (x0.clone(), x0.to(torch.float32))]
    (want, info_kd), (want32, info_kd32) = runs
    got, info = ikd.sample_dpm_adaptive(denoiser, x0.to(torch.float32), 0.002, 80.0, order=order,
                                        rtol=rtol, atol=atol, return_info=True)
    assert info == info_kd == info_kd32, (info, info_kd, info_kd32)
    assert info["n_reject"] + info["n_accept"] == info["steps"] and info["nfe"] == order * info["steps"]
    rel = lambda a: ((a.to(torch.float64) - want).abs() / (1 + want.abs())).max().item()  # noqa: E731
    # As for DPM-fast: the ε form over long steps loses f32 digits (k-diffusion's own float32
    # run is 3e-6 … 5e-4 off its float64 one); ito stays within a few times that.
    own, err = rel(want32), rel(got)
    assert err < max(4 * own, 1e-5), (err, own)


def test_dpm_adaptive_error_falls_with_the_tolerance():
    """Against the exact probability-flow solution (the Gaussian's: x₀ = μ + s·(x_T − μ)/√(s² +
    σ_T²) at σ = 0, here at σ_min), the error falls with rtol while the evaluations grow."""
    x0 = start(8).to(torch.float64)
    smin, smax = 0.002, 80.0
    exact = MU + (S * S + smin ** 2).sqrt() * (x0 - MU) / (S * S + smax ** 2).sqrt()
    errs, nfes = [], []
    for rtol in [0.05, 0.005, 0.0005]:
        got, info = ikd.sample_dpm_adaptive(denoiser, x0.to(torch.float32), smin, smax,
                                            rtol=rtol, atol=rtol / 5, return_info=True)
        errs.append((got.to(torch.float64) - exact).abs().max().item())
        nfes.append(info["nfe"])
    assert errs[0] > errs[1] > errs[2] and nfes[0] < nfes[1] < nfes[2], (errs, nfes)
    with pytest.raises(ValueError, match="rtol"):
        ikd.sample_dpm_adaptive(denoiser, x0.to(torch.float32), smin, smax, rtol=0.0)
    with pytest.raises(ValueError, match="eta"):
        ikd.sample_dpm_adaptive(denoiser, x0.to(torch.float32), smin, smax, eta=0.5)
