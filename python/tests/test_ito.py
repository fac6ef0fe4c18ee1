"""The ito package on numpy arrays (and torch CPU tensors where torch is installed): the same
bits as the Rust API (python/tests/data/rust_bits.txt, which a Rust test keeps current), batch
splits, zero-copy, and bad input raising with the argument's name."""

import pathlib
import threading
import time

import numpy as np
import pytest

import ito

DATA = pathlib.Path(__file__).parent / "data" / "rust_bits.txt"
N = 1003
# The grid the Rust cases use: ITO_GRID_TIMES on the EDM schedule, then a clean end.
SIGMAS = [80.0, 42.415189318512671, 21.108676736193759, 9.7223686980000926, 4.0953640337455012,
          1.5460052093219393, 0.51155813744062883, 0.14308327578598758, 0.020435334553438746,
          0.002]


def rust_bits():
    cases = {}
    for line in DATA.read_text().splitlines():
        if line.startswith("#"):
            continue
        name, *words = line.split()
        cases[name] = np.array([int(w, 16) for w in words], dtype=np.uint64)
    return cases


RUST = rust_bits()

I = np.arange(N)
MU = -1.5 + 0.2 * (I % 16).astype(np.float64)
S = 0.3 + 0.05 * (I % 16).astype(np.float64)


def denoise(x, sigma):
    """The cases' analytic denoiser, in the same float64 operations as the Rust and C code."""
    x = x.astype(np.float64)
    return ((S * S * x + sigma * sigma * MU) / (S * S + sigma * sigma)).astype(np.float32)


def edm_sampler(solver, n=N, **kw):
    return ito.Sampler(solver, n, prediction="data", schedule="edm", schedule_params=[0.002, 80.0],
                       grid="times", times=SIGMAS, seed=7, **kw)


@pytest.mark.parametrize("solver", ["dpmpp-2m", "sde-dpmpp-2m", "euler-a", "heun", "dpmpp-2s"])
def test_a_sampling_run_equals_the_rust_api_bit_for_bit(solver):
    x = np.zeros(N, dtype=np.float32)
    s = edm_sampler(solver)
    s.reserve()
    s.init_noise(x)
    calls = 0
    for ev in s.steps(x):
        s.advance(x, denoise(s.eval_input(x), ev.sigma / ev.alpha))
        calls += 1
    assert calls >= 10
    assert np.array_equal(x.view(np.uint32).astype(np.uint64), RUST[f"run:{solver}"])


def test_run_and_reset_give_the_same_bits():
    x = np.zeros(N, dtype=np.float32)
    s = edm_sampler("sde-dpmpp-2m")
    s.init_noise(x)
    s.run(x, lambda inp, ev: denoise(inp, ev.sigma / ev.alpha))
    first = x.copy()
    s.reset()
    s.init_noise(x)
    s.run(x, lambda inp, ev: denoise(inp, ev.sigma / ev.alpha))
    assert np.array_equal(first.view(np.uint32), x.view(np.uint32))
    assert np.array_equal(first.view(np.uint32).astype(np.uint64), RUST["run:sde-dpmpp-2m"])


def test_float16_state_and_model_output():
    h = np.zeros(N, dtype=np.float16)
    s = edm_sampler("dpmpp-2m", dtype="float16")
    s.init_noise(h)
    for _ in s.steps(h):
        s.advance(h, h.copy())  # x0 = x
    assert np.array_equal(h.view(np.uint16).astype(np.uint64), RUST["f16:dpmpp-2m"])


def test_euler_maruyama_and_normals_equal_the_rust_api():
    x, f, g = np.ones(N, np.float32), np.zeros(N, np.float32), np.full(N, 0.5, np.float32)
    for k in range(100):
        np.negative(x, out=f)
        ito.sde.euler_maruyama(x, f, g, dt=0.01, seed=11, stream=3, step=k)
    assert np.array_equal(x.view(np.uint32).astype(np.uint64), RUST["sde:euler_maruyama"])

    x = ((I % 7) * 0.25).astype(np.float32)
    for k in range(20):
        np.negative(x, out=f)
        ito.sde.euler_maruyama_scalar_noise(x, f, g, dt=0.05, sample_len=59, seed=12,
                                            offset=59 * 4, step=k)
    assert np.array_equal(x.view(np.uint32).astype(np.uint64),
                          RUST["sde:euler_maruyama_scalar_noise"])

    z = ito.randn(N, seed=42, stream=1, offset=1000)
    assert np.array_equal(z.view(np.uint32).astype(np.uint64), RUST["randn:42:1:1000"])


def test_the_pc_sampler_equals_the_rust_api():
    pc = ito.PcSampler(1024, 256, schedule="ve", schedule_params=(0.01, 50.0), steps=50,
                       predictor="euler_maruyama", seed=5)
    x = pc.state()
    while (ev := pc.next_eval()) is not None:
        sigma = 0.01 * (50.0 / 0.01) ** ev.t
        pc.advance((-x.astype(np.float64) / (1.0 + sigma * sigma)).astype(np.float32))
    assert np.array_equal(pc.state().view(np.uint32).astype(np.uint64), RUST["pc:ve"])
    with pytest.raises(ValueError, match="predictor"):
        ito.PcSampler(1024, 256, predictor="heun")
    with pytest.raises(ValueError, match="score"):
        pc2 = ito.PcSampler(1024, 256)
        pc2.advance(np.zeros(10, np.float32))


def test_brownian_tree_noise_and_increments_equal_the_rust_api():
    tree = ito.BrownianTree(0.002, 80.0, seed=9, stream=2, tol=1e-6)
    assert tree.depth == 27
    x = np.zeros(N, dtype=np.float32)
    s = edm_sampler("sde-dpmpp-2m", noise_tree=tree)
    s.init_noise(x)
    s.run(x, lambda inp, ev: denoise(inp, ev.sigma / ev.alpha))
    assert np.array_equal(x.view(np.uint32).astype(np.uint64), RUST["tree:sde-dpmpp-2m"])

    y = np.empty(N, dtype=np.float32)
    tree.increment(y, 0.3, 7.0, scale=0.5, offset=1000)
    assert np.array_equal(y.view(np.uint32).astype(np.uint64), RUST["tree:increment"])

    # the normals the sampler adds at step k are the tree's normal() between its nodes
    z = np.empty(N, dtype=np.float32)
    tree.normal(z, SIGMAS[1], SIGMAS[0])
    s2 = edm_sampler("euler-a", noise_tree=tree)
    x2 = np.zeros(N, dtype=np.float32)
    s2.init_noise(x2)
    x0 = np.full(N, 0.25, np.float32)  # a model that always says x0 = 0.25
    ev = s2.next_eval(x2)
    start = x2.copy()
    s2.advance(x2, x0)
    up = SIGMAS[1] * np.sqrt(1 - SIGMAS[1] ** 2 / SIGMAS[0] ** 2)
    down = np.sqrt(SIGMAS[1] ** 2 - up ** 2)
    ancestral = 0.25 + (start - 0.25) * down / SIGMAS[0] + up * z.astype(np.float64)
    assert ev.step == 0 and np.abs(x2 - ancestral).max() < 1e-4


def test_a_brownian_tree_is_one_path_on_every_kind_of_tensor():
    torch = pytest.importorskip("torch")
    tree = ito.BrownianTree(0.0, 1.0, seed=4, depth=12)
    a, b, whole = (np.empty(4096, np.float32) for _ in range(3))
    tree.increment(a, 0.0, 0.3)
    tree.increment(b, 0.3, 1.0)
    tree.value(whole, 1.0)
    assert np.abs(a + b - whole).max() < 1e-5
    assert abs(whole.var() - 1.0) < 0.06 and abs(a.var() - 0.3) < 0.02
    t = torch.empty(4096)
    tree.increment(t, 0.0, 0.3)
    assert np.array_equal(t.numpy().view(np.uint32), a.view(np.uint32))
    half = torch.empty(2048, dtype=torch.bfloat16)
    tree.increment(half, 0.0, 0.3, offset=2048)
    assert (half.float().numpy() - a[2048:]).__abs__().max() < 0.02
    with pytest.raises(ValueError, match="s ≤ t"):
        tree.increment(a, 0.5, 0.2)
    with pytest.raises(ValueError, match="`t`"):
        tree.increment(a, 0.5, 1.5)
    with pytest.raises(ValueError, match="t1"):
        ito.BrownianTree(1.0, 1.0, seed=0)
    with pytest.raises(ValueError, match="depth"):
        ito.BrownianTree(0.0, 1.0, seed=0, depth=40)
    with pytest.raises(ValueError, match="tol"):
        ito.BrownianTree(0.0, 1.0, seed=0, tol=-1.0)


def test_fractional_noise_equals_the_rust_api_and_has_its_variance():
    fbm = ito.sde.MarkovFbm(0.3, 4, gamma_max=20.0, horizon=1.0)
    assert len(fbm.omega) == 4 and 0 < fbm.relative_error < 0.05
    tr = fbm.transition(0.01)
    state, out, acc = np.zeros(4 * N, np.float32), np.empty(N, np.float32), np.zeros(N, np.float32)
    for k in range(50):
        tr.step(state, out, seed=13, stream=1, step=k)
        acc += out
    assert np.array_equal(acc.view(np.uint32).astype(np.uint64), RUST["fbm:0.3"])
    # Var B_H(t) = t^{2H} / (2H Γ(H + ½)²) for Riemann–Liouville fBM; 2^16 paths to t = 0.5
    import math

    n = 1 << 16
    state, out, b = np.zeros(4 * n, np.float32), np.empty(n, np.float32), np.zeros(n, np.float64)
    for k in range(50):
        tr.step(state, out, seed=2, step=k)
        b += out
    want = 0.5 ** 0.6 / (0.6 * math.gamma(0.8) ** 2)
    assert abs(b.var() / want - 1) < 0.05 + fbm.relative_error, (b.var(), want)
    with pytest.raises(ValueError, match="k"):
        ito.sde.MarkovFbm(0.3, 0, gamma_max=20.0, horizon=1.0)
    with pytest.raises(ValueError, match="`h`"):
        fbm.transition(0.0)
    with pytest.raises(ValueError, match="state"):
        tr.step(np.zeros(4 * N - 1, np.float32), seed=1, step=0)


def test_annealed_langevin_equals_the_rust_api():
    x = np.empty(N, np.float32)
    al = ito.langevin.AnnealedLangevin(x, sigma_max=10.0, sigma_min=0.1, levels=5,
                                       steps_per_level=3, epsilon=1e-3, denoise=True, seed=17,
                                       stream=2)
    seen = []
    for ev in al.steps():
        seen.append((ev.level, ev.step))
        al.advance((-x.astype(np.float64) / (1.0 + ev.sigma * ev.sigma)).astype(np.float32))
    assert len(seen) == 5 * 3 + 1 and seen[-1] == (5, 0)
    assert np.array_equal(x.view(np.uint32).astype(np.uint64), RUST["annealed:ncsn"])
    with pytest.raises(ValueError, match="advance"):
        al.advance(x)
    with pytest.raises(ValueError, match="sigmas"):
        ito.langevin.AnnealedLangevin(x, sigmas=[1.0, 2.0], steps_per_level=1, epsilon=1e-3, seed=0)
    fresh = ito.langevin.AnnealedLangevin(x, sigmas=[2.0, 1.0], steps_per_level=1, epsilon=1e-3,
                                          seed=0)
    with pytest.raises(ValueError, match="score"):
        fresh.advance(np.zeros(N - 1, np.float32))
    with pytest.raises(TypeError, match="float32"):
        fresh.advance(np.zeros(N, np.float64))
    assert fresh.next_eval() == (2.0, 0, 0), "a refused score does not move the run on"


def test_annealed_langevin_samples_the_target():
    """NCSN on data N(0.5, 0.3²) with its exact score at each level reaches the data law."""
    n = 1 << 16
    x = np.empty(n, np.float32)
    al = ito.langevin.AnnealedLangevin(x, sigma_max=5.0, sigma_min=0.01, levels=10,
                                       steps_per_level=100, epsilon=2e-5, denoise=True, seed=4)
    for ev in al.steps():
        v = 0.09 + ev.sigma ** 2
        al.advance((-(x.astype(np.float64) - 0.5) / v).astype(np.float32))
    assert abs(x.mean() - 0.5) < 0.01 and abs(x.std() - 0.3) < 0.02, (x.mean(), x.std())


def test_a_batch_of_8_equals_two_batches_of_4_with_offsets():
    sample = 256

    def sample_batch(n_samples, offset):
        x = np.zeros(n_samples * sample, dtype=np.float32)
        s = ito.Sampler("sde-dpmpp-2m", x.size, seed=3, offset=offset, steps=12)
        s.init_noise(x)
        s.run(x, lambda inp, ev: (ev.sigma * inp).astype(np.float32))
        return x

    whole = sample_batch(8, 0)
    halves = np.concatenate([sample_batch(4, 0), sample_batch(4, 4 * sample)])
    assert np.array_equal(whole.view(np.uint32), halves.view(np.uint32))


def test_the_state_is_updated_in_place_without_a_copy():
    x = np.zeros((4, 250), dtype=np.float32)
    before = x.__array_interface__["data"][0]
    s = ito.Sampler.like(x, "dpmpp-2m", seed=1)
    s.init_noise(x)
    assert x.__array_interface__["data"][0] == before
    assert np.abs(x).sum() > 0
    # a view into a larger contiguous buffer works in place too
    big = np.zeros(2000, dtype=np.float32)
    view = big[500:1500]
    s2 = ito.Sampler("dpmpp-2m", 1000, seed=1)
    s2.init_noise(view)
    assert np.array_equal(view, x.reshape(-1)) and not big[:500].any() and not big[1500:].any()


def test_the_stage_buffer_is_exported_zero_copy():
    x = np.zeros((10, 10), dtype=np.float32)
    s = ito.Sampler("heun", x.size, prediction="eps", seed=2)
    s.init_noise(x)
    stages = 0
    for ev in s.steps(x):
        inp = s.eval_input(x)
        assert inp.shape == x.shape
        if ev.on_stage:
            stages += 1
            assert inp is not x and not np.shares_memory(inp, x)
            # zero-copy: the same address on every export
            assert inp.__array_interface__["data"][0] == s.eval_input(x).__array_interface__["data"][0]
            kept = inp
        s.advance(x, (ev.sigma * inp).astype(np.float32))
    assert stages > 0
    # the export keeps the sampler's buffer alive after the sampler is gone
    values = kept.copy()
    del s
    import gc

    gc.collect()
    assert np.array_equal(kept, values)


def test_the_gil_is_released_during_a_pass():
    x = np.zeros(1 << 25, dtype=np.float32)
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.0005)

    t = threading.Thread(target=ticker)
    t.start()
    try:
        time.sleep(0.01)
        start = time.perf_counter()
        ito.fill_normal(x, seed=1)  # one call of tens of milliseconds
        end = time.perf_counter()
    finally:
        stop.set()
        t.join()
    during = [tk for tk in ticks if start < tk < end]
    assert len(during) >= 3, f"the other thread ran while ito worked ({len(during)} ticks in {end - start:.3f} s)"


def test_bad_input_raises_naming_the_argument():
    s = ito.Sampler("dpmpp-2m", 16, seed=1)
    x = np.zeros(16, np.float32)
    with pytest.raises(ValueError, match="solver"):
        ito.Sampler("dpmpp-9m", 16)
    with pytest.raises(ValueError, match="len"):
        ito.Sampler("dpmpp-2m", 0)
    with pytest.raises(ValueError, match="prediction"):
        ito.Sampler("dpmpp-2m", 16, prediction="x1")
    with pytest.raises(TypeError, match="dtype"):
        ito.Sampler("dpmpp-2m", 16, dtype="float64")
    with pytest.raises(ValueError, match="times"):
        ito.Sampler("dpmpp-2m", 16, grid="times", times=[1.0])
    with pytest.raises(TypeError, match="x: float32, float16 or bfloat16"):
        s.init_noise(np.zeros(16, np.float64))
    with pytest.raises(TypeError, match="the sampler's dtype"):
        s.init_noise(np.zeros(16, np.float16))
    with pytest.raises(ValueError, match="x: 16 elements expected"):
        s.init_noise(np.zeros(17, np.float32))
    with pytest.raises(ValueError, match="x: a contiguous tensor"):
        s.init_noise(np.zeros(32, np.float32)[::2])
    with pytest.raises(TypeError, match="x: a numpy array or torch tensor"):
        s.init_noise([0.0] * 16)
    with pytest.raises(ValueError, match="model_out: 16 elements"):
        s.advance(x, np.zeros(8, np.float32))
    with pytest.raises(ValueError, match="model_out"):
        s.advance(x, x)  # the state as its own model output: overlapping buffers
    read_only = np.zeros(16, np.float32)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="x: its memory cannot be shared"):
        s.init_noise(read_only)
    with pytest.raises(ValueError, match="use_"):
        ito.noise_address("stepp", seed=1)
    with pytest.raises(ValueError, match="segment_len"):
        ito.reduce(x, segment_len=5)
    y = np.zeros(16, np.float32)
    with pytest.raises(ito.NonFiniteError, match="`x`"):
        s.next_eval(x)
        y[3] = np.nan
        s.advance(x, y)


def test_reduce_and_lincomb():
    x = np.arange(8, dtype=np.float32)
    r = ito.reduce(x, x, segment_len=4)
    assert r.shape == (2, 3)
    assert r[0].tolist() == [14.0, 14.0, 3.0] and r[1].tolist() == [126.0, 126.0, 7.0]
    y = np.ones(8, np.float32)
    ito.lincomb(y, [x], c_y=2.0, c=[0.5])
    assert y.tolist() == (2.0 + 0.5 * np.arange(8)).tolist()


def test_noise_address_gives_a_samplers_normals():
    # ito_sampler_init_noise draws x = sigma_0 * N(initial use, step 0)
    x = np.zeros(64, np.float32)
    s = edm_sampler("dpmpp-2m", n=64)
    s.init_noise(x)
    seed, stream, step, offset = ito.noise_address("initial", seed=7, len=64)
    z = np.zeros(64, np.float32)
    ito.fill_normal(z, seed=seed, stream=stream, step=step, offset=offset, std=80.0)
    assert np.array_equal(x, z)


def test_torch_cpu_tensors_give_the_numpy_bits():
    torch = pytest.importorskip("torch")
    for dtype in [torch.float32, torch.float16, torch.bfloat16]:
        x = torch.zeros(N, dtype=dtype)
        s = ito.Sampler.like(x, "sde-dpmpp-2m", prediction="data", schedule="edm",
                             schedule_params=[0.002, 80.0], grid="times", times=SIGMAS, seed=7)
        s.init_noise(x)
        for ev in s.steps(x):
            inp = s.eval_input(x)
            d = torch.from_numpy(denoise(inp.float().numpy(), ev.sigma / ev.alpha)).to(dtype)
            s.advance(x, d)
        if dtype == torch.float32:
            assert np.array_equal(x.numpy().view(np.uint32).astype(np.uint64),
                                  RUST["run:sde-dpmpp-2m"])
        else:
            assert torch.isfinite(x).all()
    z = ito.randn_like(torch.zeros(N), seed=42, stream=1, offset=1000)
    assert np.array_equal(z.numpy().view(np.uint32).astype(np.uint64), RUST["randn:42:1:1000"])
    with pytest.raises(ValueError, match="contiguous"):
        ito.fill_normal(torch.zeros(8, 8).t(), seed=1)
