"""ito.sde.sdeint against torchsde 0.2.6's sdeint (installed with k-diffusion's environment:
scripts/make_kdiffusion_fixture.sh), given the same Brownian increments: every method on
geometric Brownian motion, diagonal and scalar noise, torch and numpy states."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torchsde = pytest.importorskip("torchsde")

import ito  # noqa: E402


class Gbm(torch.nn.Module):
    """dY = μY dt + σY dW (Itô), or its Stratonovich form with drift μ − σ²/2."""

    noise_type = "diagonal"

    def __init__(self, sde_type="ito", mu=0.4, sigma=0.9):
        super().__init__()
        self.sde_type, self.mu, self.sigma = sde_type, mu, sigma

    def f(self, t, y):
        drift = self.mu if self.sde_type == "ito" else self.mu - 0.5 * self.sigma ** 2
        return drift * y

    def g(self, t, y):
        return self.sigma * y


class ItoIncrements:
    """A torchsde Brownian motion whose increment over grid step k is ito's: √Δt·z with z the
    counter's normals of step k."""

    levy_area_approximation = "none"  # torchsde's methods here need increments only

    def __init__(self, nodes, shape, seed, scalar=False):
        self.nodes, self.shape, self.seed, self.scalar = nodes, shape, seed, scalar

    def __call__(self, ta, tb=None, return_U=False, return_A=False):
        k = min(range(len(self.nodes)), key=lambda i: abs(self.nodes[i] - float(ta)))
        z = torch.empty(self.shape, dtype=torch.float32)
        use = "scalar_increment" if self.scalar else "increment"
        a = ito.noise_address(use, seed=self.seed, step=k, len=z.numel())
        ito.fill_normal(z, seed=a[0], stream=a[1], step=a[2], offset=a[3])
        return math.sqrt(float(tb) - float(ta)) * z.to(torch.float64)


def reference(sde, y0, ts, method, dt, seed, scalar=False):
    nodes = ito.sde.grid(ts, dt)
    shape = (y0.shape[0], 1) if scalar else tuple(y0.shape)
    bm = ItoIncrements(nodes, shape, seed, scalar)
    return torchsde.sdeint(sde, y0.to(torch.float64), ts.to(torch.float64), bm=bm, method=method,
                           dt=dt)


@pytest.mark.parametrize("method,sde_type", [("euler", "ito"), ("milstein", "ito"),
                                             ("heun", "stratonovich"),
                                             ("reversible_heun", "stratonovich")])
def test_every_method_follows_torchsde_given_the_same_increments(method, sde_type):
    y0 = 1.0 + 0.01 * torch.arange(64 * 8, dtype=torch.float32).reshape(64, 8)
    ts = torch.tensor([0.0, 0.25, 0.5, 1.0])
    sde = Gbm(sde_type)
    got = ito.sde.sdeint(sde, y0, ts, method=method, dt=0.05, seed=7)
    want = reference(sde, y0, ts, method, 0.05, 7)
    assert got.shape == want.shape == (4, 64, 8)
    err = ((got.to(torch.float64) - want).abs() / (1 + want.abs())).max().item()
    assert err < 2e-5, err
    # another seed, another path
    other = ito.sde.sdeint(sde, y0, ts, method=method, dt=0.05, seed=8)
    assert (other - got).abs().max().item() > 1e-2


def test_scalar_noise_and_numpy_states():
    class Scalar(Gbm):
        noise_type = "scalar"

        def g(self, t, y):
            return (self.sigma * y).unsqueeze(-1)

    y0 = torch.linspace(0.5, 1.5, 32 * 4, dtype=torch.float32).reshape(32, 4)
    ts = torch.tensor([0.0, 1.0])
    got = ito.sde.sdeint(Scalar(), y0, ts, method="euler", dt=0.1, seed=3)
    want = reference(Scalar(), y0, ts, "euler", 0.1, 3, scalar=True)
    err = ((got.to(torch.float64) - want).abs() / (1 + want.abs())).max().item()
    assert err < 2e-5, err

    class NumpyGbm:
        sde_type, noise_type = "ito", "diagonal"

        def f(self, t, y):
            return (0.4 * y).astype(np.float32)

        def g(self, t, y):
            return (0.9 * y).astype(np.float32)

        def gdg(self, t, y):
            return (0.81 * y).astype(np.float32)

    y0n = np.ascontiguousarray(y0.numpy())
    for method in ["euler", "milstein"]:
        a = ito.sde.sdeint(NumpyGbm(), y0n, [0.0, 1.0], method=method, dt=0.1, seed=3)
        b = ito.sde.sdeint(Gbm(), y0, ts, method=method, dt=0.1, seed=3).numpy()
        assert a.shape == (2, 32, 4) and np.abs(a - b).max() < 1e-5, method


def test_bad_arguments_raise():
    y0 = torch.ones(4, 2)
    with pytest.raises(ValueError, match="method"):
        ito.sde.sdeint(Gbm(), y0, [0.0, 1.0], method="srk")
    with pytest.raises(ValueError, match="sde_type"):
        ito.sde.sdeint(Gbm("ito"), y0, [0.0, 1.0], method="heun")
    with pytest.raises(ValueError, match="ts"):
        ito.sde.sdeint(Gbm(), y0, [0.0, 0.0], method="euler")
    with pytest.raises(ValueError, match="dt"):
        ito.sde.sdeint(Gbm(), y0, [0.0, 1.0], dt=0.0)
    additive = Gbm()
    additive.noise_type = "additive"  # torchsde's: a g matrix
    with pytest.raises(ValueError, match="noise_type"):
        ito.sde.sdeint(additive, y0, [0.0, 1.0])
    assert ito.sde.grid([0.0, 0.3, 1.0], 0.1) == pytest.approx(
        [0.0, 0.1, 0.2, 0.3] + [0.3 + 0.7 * i / 7 for i in range(1, 8)])
