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


@pytest.mark.parametrize("name", ["sample_euler_ancestral", "sample_dpmpp_2m_sde"])
def test_stochastic_samplers_follow_k_diffusion_given_the_same_noise(name):
    kd = kdiffusion_sampling()
    x0 = start(1)
    want = getattr(kd, name)(denoiser, x0.clone(), sigmas(), disable=True,
                             noise_sampler=ito_noise(5, x0))
    got = getattr(ikd, name)(denoiser, x0.to(torch.float32), sigmas(), seed=5)
    err = ((got.to(torch.float64) - want).abs() / (1 + want.abs())).max().item()
    assert err < 2e-6, err


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
        ikd.sample_euler_ancestral(denoiser, x0, sigmas(), noise_sampler=lambda a, b: None)
    with pytest.raises(ValueError, match="eta"):
        ikd.sample_dpmpp_2m_sde(denoiser, x0, sigmas(), eta=0.5)
    with pytest.raises(ValueError, match="sigmas"):
        ikd.sample_dpmpp_2m(denoiser, x0, torch.zeros(5))
