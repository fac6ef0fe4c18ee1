"""ito.diffusers against stock diffusers 0.42.1, step by step (where diffusers and torch are
installed: scripts/venv.sh's environment): every step's prev_sample within float32 tolerance
over a grid of configurations; the SDE variant given ito's normals as diffusers'
variance_noise; a real pipeline with the scheduler swapped, saved and loaded again."""

import inspect
import itertools

import pytest

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")

import ito  # noqa: E402
import ito.diffusers  # noqa: E402

SHAPE = (2, 4, 8, 8)
MU, VAR = 0.3, 0.25


def model(sched, x, t, prediction):
    """The exact prediction for data N(MU, VAR) per element at integer timestep t (VP)."""
    abar = sched.alphas_cumprod[int(t)].to(torch.float64)
    a, s = abar.sqrt(), (1 - abar).sqrt()
    x64 = x.to(torch.float64)
    eps = s * (x64 - a * MU) / (a * a * VAR + s * s)
    x0 = (x64 - s * eps) / a
    out = {"epsilon": eps, "sample": x0, "v_prediction": a * eps - s * x0}[prediction]
    return out.to(torch.float32)


def configs():
    base = dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
    for order, algo, pred, extra in itertools.product(
            [1, 2, 3], ["dpmsolver++", "dpmsolver", "sde-dpmsolver++"],
            ["epsilon", "sample", "v_prediction"],
            [{}, {"use_karras_sigmas": True}, {"timestep_spacing": "trailing"}]):
        cfg = dict(base, solver_order=order, algorithm_type=algo, prediction_type=pred, **extra)
        if algo == "dpmsolver":
            cfg["final_sigmas_type"] = "sigma_min"
        yield cfg
    yield dict(base, solver_order=2, solver_type="heun")
    yield dict(base, solver_order=2, thresholding=True, sample_max_value=1.5)
    yield dict(base, solver_order=3, final_sigmas_type="sigma_min", timestep_spacing="leading",
               steps_offset=1)
    yield dict(base, solver_order=2, lower_order_final=False)


@pytest.mark.parametrize("steps", [10, 20])
@pytest.mark.parametrize("cfg", list(configs()), ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items() if k not in ("beta_schedule", "beta_start", "beta_end")))
def test_dpm_solver_multistep_follows_diffusers_step_by_step(cfg, steps):
    algo = cfg.get("algorithm_type", "dpmsolver++")
    if algo == "sde-dpmsolver++" and cfg["solver_order"] == 3:
        with pytest.raises(ValueError, match="solver_order"):
            ito.diffusers.DPMSolverMultistepScheduler(**cfg)
        return
    if (cfg.get("use_karras_sigmas") and cfg.get("final_sigmas_type") == "sigma_min"
            and cfg["solver_order"] == 3 and steps < 15):
        # diffusers' zero-length last step after a third-order one: refused (see the module)
        ours = ito.diffusers.DPMSolverMultistepScheduler(**cfg)
        ours.set_timesteps(steps)
        x = torch.zeros(SHAPE)
        with pytest.raises(ValueError, match="final_sigmas_type"):
            for t in ours.timesteps:
                x = ours.step(model(ours, x, t, cfg.get("prediction_type", "epsilon")), t,
                              x).prev_sample
        return
    stock = diffusers.DPMSolverMultistepScheduler(**cfg)
    ours = ito.diffusers.DPMSolverMultistepScheduler(**cfg)
    stock.set_timesteps(steps)
    ours.set_timesteps(steps)
    assert torch.equal(stock.timesteps, ours.timesteps)
    g = torch.Generator().manual_seed(0)
    x_stock = torch.randn(SHAPE, generator=g)
    start = x_stock.clone()
    given = x_stock.clone()
    x_ours = given
    n = x_stock.numel()
    pred = cfg.get("prediction_type", "epsilon")
    for i, t in enumerate(stock.timesteps):
        noise = None
        if algo == "sde-dpmsolver++":
            a = ito.noise_address("step", seed=0, step=i, len=n)
            noise = torch.empty(SHAPE)
            ito.fill_normal(noise, seed=a[0], stream=a[1], step=a[2], offset=a[3])
        x_stock = stock.step(model(stock, x_stock, t, pred), t, x_stock,
                             variance_noise=noise).prev_sample
        x_ours = ours.step(model(ours, x_ours, t, pred), t, x_ours).prev_sample
        assert torch.isfinite(x_ours).all()
        if not torch.isfinite(x_stock).all():
            # diffusers' own third-order step over its zero-length last interval (Karras sigmas
            # ending at sigma_min twice) divides by h = 0; ito's is the identity there.
            assert i == len(stock.timesteps) - 1 and cfg.get("use_karras_sigmas")
            break
        scale = 1 + x_stock.abs().max().item()
        err = (x_ours - x_stock).abs().max().item() / scale
        assert err < 2e-5, f"step {i}: {err}"
    assert torch.equal(given, start), "the caller's first sample is not written"


@pytest.mark.parametrize("pred", ["epsilon", "sample", "v_prediction"])
@pytest.mark.parametrize("extra", [{}, {"timestep_spacing": "trailing"},
                                   {"thresholding": True, "sample_max_value": 1.5}])
def test_ddpm_follows_diffusers_given_the_same_noise(pred, extra, monkeypatch):
    import diffusers.schedulers.scheduling_ddpm as mod

    cfg = dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, clip_sample=False,
               prediction_type=pred, **extra)
    stock, ours = diffusers.DDPMScheduler(**cfg), ito.diffusers.DDPMScheduler(**cfg)
    stock.set_timesteps(20)
    ours.set_timesteps(20)
    x_stock = torch.randn(SHAPE, generator=torch.Generator().manual_seed(8))
    x_ours = x_stock.clone()
    n = x_stock.numel()
    at = {"i": 0}

    def ito_normals(shape, **kw):
        a = ito.noise_address("step", seed=0, step=at["i"], len=n)
        z = torch.empty(shape)
        ito.fill_normal(z, seed=a[0], stream=a[1], step=a[2], offset=a[3])
        return z

    monkeypatch.setattr(mod, "randn_tensor", ito_normals)
    for i, t in enumerate(stock.timesteps):
        at["i"] = i
        x_stock = stock.step(model(stock, x_stock, t, pred), t, x_stock).prev_sample
        x_ours = ours.step(model(ours, x_ours, t, pred), t, x_ours).prev_sample
        err = (x_ours - x_stock).abs().max().item() / (1 + x_stock.abs().max().item())
        assert err < 2e-5, f"step {i}: {err}"
    with pytest.raises(ValueError, match="clip_sample"):
        ito.diffusers.DDPMScheduler()
    with pytest.raises(ValueError, match="variance_type"):
        ito.diffusers.DDPMScheduler(clip_sample=False, variance_type="fixed_large")


def test_heun_from_a_begin_index():
    cfg = dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
    stock, ours = diffusers.HeunDiscreteScheduler(**cfg), ito.diffusers.HeunDiscreteScheduler(**cfg)
    for s in (stock, ours):
        s.set_timesteps(10)
        s.set_begin_index(6)  # the first evaluation of step 3
    x_stock = torch.randn(SHAPE, generator=torch.Generator().manual_seed(7)) * 3
    x_ours = x_stock.clone()
    for t in stock.timesteps[6:]:
        x_stock = stock.step(model(stock, stock.scale_model_input(x_stock, t), t, "epsilon"), t,
                             x_stock).prev_sample
        x_ours = ours.step(model(ours, ours.scale_model_input(x_ours, t), t, "epsilon"), t,
                           x_ours).prev_sample
        err = (x_ours - x_stock).abs().max().item() / (1 + x_stock.abs().max().item())
        assert err < 2e-5, err


@pytest.mark.parametrize("name", ["DPMSolverMultistepScheduler", "UniPCMultistepScheduler"])
def test_img2img_from_a_begin_index_with_generator_lists_and_custom_timesteps(name):
    cfg = dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, solver_order=3)
    stock = getattr(diffusers, name)(**cfg)
    ours = getattr(ito.diffusers, name)(**cfg)
    # pipelines look for `timesteps` / `sigmas` here (custom schedules)
    assert inspect.signature(ours.set_timesteps) == inspect.signature(stock.set_timesteps)
    for s in (stock, ours):
        s.set_timesteps(20)
        s.set_begin_index(8)  # strength 0.6: img2img starts at step 8
    x_stock = torch.randn(SHAPE, generator=torch.Generator().manual_seed(3))
    x_ours = x_stock.clone()
    gens = [torch.Generator().manual_seed(5), torch.Generator().manual_seed(6)]
    for t in stock.timesteps[8:]:
        x_stock = stock.step(model(stock, x_stock, t, "epsilon"), t, x_stock).prev_sample
        x_ours = ours.step(model(ours, x_ours, t, "epsilon"), t, x_ours, generator=gens).prev_sample
        err = (x_ours - x_stock).abs().max().item() / (1 + x_stock.abs().max().item())
        assert err < 2e-5, err
    # set_timesteps again on the same instance: a new run
    ours.set_timesteps(10)
    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(3))
    for t in ours.timesteps:
        x = ours.step(model(ours, x, t, "epsilon"), t, x).prev_sample
    assert torch.isfinite(x).all()


def test_singlestep_img2img_from_a_group_start_and_refused_inside_a_group():
    cfg = dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, solver_order=3)
    stock = diffusers.DPMSolverSinglestepScheduler(**cfg)
    ours = ito.diffusers.DPMSolverSinglestepScheduler(**cfg)
    for s in (stock, ours):
        s.set_timesteps(20)
        s.set_begin_index(9)  # order list [1, 2, 3] * 6 + [1, 2]: a group starts at 9
    x_stock = torch.randn(SHAPE, generator=torch.Generator().manual_seed(3))
    x_ours = x_stock.clone()
    for t in stock.timesteps[9:]:
        x_stock = stock.step(model(stock, x_stock, t, "epsilon"), t, x_stock).prev_sample
        x_ours = ours.step(model(ours, x_ours, t, "epsilon"), t, x_ours).prev_sample
        err = (x_ours - x_stock).abs().max().item() / (1 + x_stock.abs().max().item())
        assert err < 2e-5, err
    # inside a group diffusers lowers the orders in its own way ([1, 1, 2, 3, …]): refused
    ours.set_timesteps(20)
    ours.set_begin_index(8)
    x = torch.zeros(SHAPE)
    with pytest.raises(ValueError, match="begin_index"):
        ours.step(model(ours, x, ours.timesteps[8], "epsilon"), ours.timesteps[8], x)


def test_ddim_with_eta_1_is_the_ddpm_posterior_given_the_same_noise():
    cfg = dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, clip_sample=False)
    stock, ours = diffusers.DDIMScheduler(**cfg), ito.diffusers.DDIMScheduler(**cfg)
    stock.set_timesteps(20)
    ours.set_timesteps(20)
    x_stock = torch.randn(SHAPE, generator=torch.Generator().manual_seed(4))
    x_ours = x_stock.clone()
    n = x_stock.numel()
    for i, t in enumerate(stock.timesteps):
        a = ito.noise_address("step", seed=0, step=i, len=n)
        z = torch.empty(SHAPE)
        ito.fill_normal(z, seed=a[0], stream=a[1], step=a[2], offset=a[3])
        x_stock = stock.step(model(stock, x_stock, t, "epsilon"), t, x_stock, eta=1.0,
                             variance_noise=z).prev_sample
        x_ours = ours.step(model(ours, x_ours, t, "epsilon"), t, x_ours, eta=1.0).prev_sample
        err = (x_ours - x_stock).abs().max().item() / (1 + x_stock.abs().max().item())
        assert err < 2e-5, f"step {i}: {err}"
    with pytest.raises(ValueError, match="clip_sample"):
        ito.diffusers.DDIMScheduler()
    with pytest.raises(ValueError, match="eta"):
        ours.set_timesteps(5)
        ours.step(x_ours, ours.timesteps[0], x_ours, eta=0.5)


def test_configurations_ito_cannot_honour_raise_naming_the_option():
    with pytest.raises(ValueError, match="algorithm_type"):
        ito.diffusers.DPMSolverMultistepScheduler(algorithm_type="sde-dpmsolver",
                                                  final_sigmas_type="sigma_min")
    with pytest.raises(ValueError, match="variance_type"):
        ito.diffusers.DPMSolverMultistepScheduler(variance_type="learned_range")
    with pytest.raises(ValueError, match="solver_type"):
        ito.diffusers.DPMSolverMultistepScheduler(solver_order=3, solver_type="heun")
    with pytest.raises(ValueError, match="algorithm_type"):
        ito.diffusers.DPMSolverSinglestepScheduler(algorithm_type="sde-dpmsolver++")
    with pytest.raises(ValueError, match="solver_type"):
        ito.diffusers.DPMSolverSinglestepScheduler(solver_type="heun")
    s = ito.diffusers.DPMSolverMultistepScheduler()
    s.set_timesteps(5)
    x = torch.zeros(SHAPE)
    s.ito_noise = "numpy"
    with pytest.raises(ValueError, match="ito_noise"):
        s.step(x, s.timesteps[0], x)


STOCHASTIC = [
    ("DPMSolverMultistepScheduler", dict(algorithm_type="sde-dpmsolver++"), {}),
    ("DPMSolverMultistepScheduler", dict(algorithm_type="sde-dpmsolver++", solver_order=1,
                                         use_karras_sigmas=True), {}),
    ("EulerAncestralDiscreteScheduler", {}, {}),
    ("DDPMScheduler", dict(clip_sample=False), {}),
    ("DDIMScheduler", dict(clip_sample=False), dict(eta=1.0)),
]


@pytest.mark.parametrize("name,cfg,kw", STOCHASTIC, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(STOCHASTIC)])
def test_generator_noise_reproduces_stock_diffusers(name, cfg, kw):
    """ito_noise = "generator": the normals stock diffusers draws from the same generator, in
    the same order, so the same seed gives stock diffusers' trajectory (its images)."""
    base = dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, **cfg)
    stock = getattr(diffusers, name)(**base)
    ours = getattr(ito.diffusers, name)(**base)
    ours.ito_noise = "generator"
    for s in (stock, ours):
        s.set_timesteps(12)
    g_stock, g_ours = torch.Generator().manual_seed(21), torch.Generator().manual_seed(21)
    x_stock = torch.randn(SHAPE, generator=torch.Generator().manual_seed(2)) * float(
        stock.init_noise_sigma)
    x_ours = x_stock.clone()
    for i, t in enumerate(stock.timesteps):
        x_stock = stock.step(model(stock, stock.scale_model_input(x_stock, t), t, "epsilon"), t,
                             x_stock, generator=g_stock, **kw).prev_sample
        x_ours = ours.step(model(ours, ours.scale_model_input(x_ours, t), t, "epsilon"), t,
                           x_ours, generator=g_ours, **kw).prev_sample
        err = (x_ours - x_stock).abs().max().item() / (1 + x_stock.abs().max().item())
        assert err < 2e-5, f"step {i}: {err}"
    # both generators were drawn alike
    assert torch.equal(torch.randn(4, generator=g_stock), torch.randn(4, generator=g_ours))
    # ito's own noise (the default) gives another trajectory
    ours.ito_noise = "ito"
    ours.set_timesteps(12)
    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(2)) * float(ours.init_noise_sigma)
    for t in ours.timesteps:
        x = ours.step(model(ours, ours.scale_model_input(x, t), t, "epsilon"), t, x,
                      generator=torch.Generator().manual_seed(21), **kw).prev_sample
    assert (x - x_stock).abs().max().item() > 1e-3


def test_variance_noise_is_the_steps_normals():
    base = dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                algorithm_type="sde-dpmsolver++")
    stock = diffusers.DPMSolverMultistepScheduler(**base)
    ours = ito.diffusers.DPMSolverMultistepScheduler(**base)
    for s in (stock, ours):
        s.set_timesteps(10)
    x_stock = torch.randn(SHAPE, generator=torch.Generator().manual_seed(9))
    x_ours = x_stock.clone()
    g = torch.Generator().manual_seed(4)
    for i, t in enumerate(stock.timesteps):
        z = torch.randn(SHAPE, generator=g)
        x_stock = stock.step(model(stock, x_stock, t, "epsilon"), t, x_stock,
                             variance_noise=z).prev_sample
        x_ours = ours.step(model(ours, x_ours, t, "epsilon"), t, x_ours, variance_noise=z).prev_sample
        err = (x_ours - x_stock).abs().max().item() / (1 + x_stock.abs().max().item())
        assert err < 2e-5, f"step {i}: {err}"


# Every drop-in whose step takes the generator DDPMPipeline passes (Heun's, like stock
# diffusers', does not).
PIPELINE_SCHEDULERS = ["DPMSolverMultistepScheduler", "DPMSolverSinglestepScheduler",
                       "UniPCMultistepScheduler", "DEISMultistepScheduler", "DDIMScheduler",
                       "DDPMScheduler", "EulerDiscreteScheduler", "EulerAncestralDiscreteScheduler"]


@pytest.mark.parametrize("name", PIPELINE_SCHEDULERS)
def test_a_pipeline_runs_with_the_swapped_scheduler_and_saves_and_loads_it(tmp_path, name):
    unet = diffusers.UNet2DModel(sample_size=8, in_channels=3, out_channels=3, layers_per_block=1,
                                 block_out_channels=(8, 16), norm_num_groups=4,
                                 down_block_types=("DownBlock2D", "DownBlock2D"),
                                 up_block_types=("UpBlock2D", "UpBlock2D"))
    pipe = diffusers.DDPMPipeline(unet=unet, scheduler=diffusers.DDPMScheduler(clip_sample=False))
    cls = getattr(ito.diffusers, name)
    pipe.scheduler = cls.from_config(pipe.scheduler.config)
    assert pipe.scheduler.config.num_train_timesteps == 1000
    out = pipe(batch_size=2, num_inference_steps=5, generator=torch.Generator().manual_seed(1),
               output_type="np").images
    assert out.shape == (2, 8, 8, 3) and (out >= 0).all() and (out <= 1).all()
    pipe.save_pretrained(tmp_path)
    loaded = diffusers.DDPMPipeline.from_pretrained(tmp_path)
    assert type(loaded.scheduler) is cls
    again = loaded(batch_size=2, num_inference_steps=5, generator=torch.Generator().manual_seed(1),
                   output_type="np").images
    assert (again == out).all(), "the same seed gives the same image after a round trip"


@pytest.mark.parametrize("name,cfg", [("DDPMScheduler", {}),
                                      ("DPMSolverMultistepScheduler", {"algorithm_type": "sde-dpmsolver++"})])
def test_a_pipeline_with_generator_noise_makes_stock_diffusers_images(name, cfg):
    unet = diffusers.UNet2DModel(sample_size=8, in_channels=3, out_channels=3, layers_per_block=1,
                                 block_out_channels=(8, 16), norm_num_groups=4,
                                 down_block_types=("DownBlock2D", "DownBlock2D"),
                                 up_block_types=("UpBlock2D", "UpBlock2D"))
    config = diffusers.DDPMScheduler(clip_sample=False).config
    stock = diffusers.DDPMPipeline(unet=unet, scheduler=getattr(diffusers, name).from_config(config, **cfg))
    want = stock(batch_size=2, num_inference_steps=8, generator=torch.Generator().manual_seed(5),
                 output_type="np").images
    ours = getattr(ito.diffusers, name).from_config(config, **cfg)
    ours.ito_noise = "generator"
    pipe = diffusers.DDPMPipeline(unet=unet, scheduler=ours)
    got = pipe(batch_size=2, num_inference_steps=8, generator=torch.Generator().manual_seed(5),
               output_type="np").images
    assert abs(got - want).max() < 1e-4


def other_configs():
    base = dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
    for order, pred, extra in itertools.product([1, 2, 3], ["epsilon", "sample", "v_prediction"],
                                                [{}, {"use_karras_sigmas": True}]):
        yield "UniPCMultistepScheduler", dict(base, solver_order=order, prediction_type=pred, **extra)
        if order > 1:
            yield "UniPCMultistepScheduler", dict(base, solver_order=order, prediction_type=pred,
                                                  solver_type="bh1", **extra)
        yield "DEISMultistepScheduler", dict(base, solver_order=order, prediction_type=pred, **extra)
    for order, algo, pred, extra in itertools.product(
            [1, 2, 3], ["dpmsolver++", "dpmsolver"], ["epsilon", "sample", "v_prediction"],
            [{}, {"use_karras_sigmas": True}, {"use_exponential_sigmas": True}]):
        cfg = dict(base, solver_order=order, algorithm_type=algo, prediction_type=pred, **extra)
        if algo == "dpmsolver":
            cfg["final_sigmas_type"] = "sigma_min"
        yield "DPMSolverSinglestepScheduler", cfg
    yield "DPMSolverSinglestepScheduler", dict(base, solver_order=2, thresholding=True,
                                               sample_max_value=1.5)
    yield "DPMSolverSinglestepScheduler", dict(base, solver_order=2, lower_order_final=False,
                                               final_sigmas_type="sigma_min")
    yield "UniPCMultistepScheduler", dict(base, solver_order=2, thresholding=True, sample_max_value=1.5)
    yield "DEISMultistepScheduler", dict(base, solver_order=2, timestep_spacing="trailing")
    for extra in [{}, {"timestep_spacing": "trailing"}, {"timestep_spacing": "leading", "steps_offset": 1}]:
        yield "EulerDiscreteScheduler", dict(base, **extra)
        yield "EulerAncestralDiscreteScheduler", dict(base, **extra)
    yield "EulerDiscreteScheduler", dict(base, use_karras_sigmas=True)
    for extra in [{}, {"use_karras_sigmas": True}, {"timestep_spacing": "trailing"}]:
        yield "HeunDiscreteScheduler", dict(base, **extra)
    for pred, extra in itertools.product(["epsilon", "sample", "v_prediction"],
                                         [{}, {"set_alpha_to_one": False, "steps_offset": 1},
                                          {"thresholding": True, "sample_max_value": 1.5}]):
        yield "DDIMScheduler", dict(base, clip_sample=False, prediction_type=pred, **extra)


@pytest.mark.parametrize("steps", [10, 20])
@pytest.mark.parametrize("name,cfg", list(other_configs()), ids=lambda v: v if isinstance(v, str) else "-".join(f"{k}={x}" for k, x in v.items() if k not in ("beta_schedule", "beta_start", "beta_end")))
def test_other_schedulers_follow_diffusers_step_by_step(name, cfg, steps, monkeypatch):
    if (name == "DEISMultistepScheduler" and cfg.get("use_karras_sigmas")
            and cfg["solver_order"] == 3 and steps < 15):
        ours = ito.diffusers.DEISMultistepScheduler(**cfg)
        ours.set_timesteps(steps)
        x = torch.zeros(SHAPE)
        with pytest.raises(ValueError, match="use_karras_sigmas"):
            for t in ours.timesteps:
                x = ours.step(model(ours, x, t, cfg["prediction_type"]), t, x).prev_sample
        return
    stock = getattr(diffusers, name)(**cfg)
    ours = getattr(ito.diffusers, name)(**cfg)
    stock.set_timesteps(steps)
    ours.set_timesteps(steps)
    assert torch.equal(stock.timesteps, ours.timesteps)
    assert stock.init_noise_sigma == ours.init_noise_sigma
    if (name == "DPMSolverSinglestepScheduler" and stock.sigmas[-2] == stock.sigmas[-1]
            and stock.order_list[-1] != 1):
        # diffusers' zero-length last step closes a higher-order group: refused (see the class)
        x = torch.zeros(SHAPE)
        with pytest.raises(ValueError, match="final_sigmas_type"):
            ours.step(model(ours, x, ours.timesteps[0], cfg["prediction_type"]),
                      ours.timesteps[0], x)
        return
    pred = cfg.get("prediction_type", "epsilon")
    g = torch.Generator().manual_seed(0)
    x_stock = torch.randn(SHAPE, generator=g) * float(stock.init_noise_sigma)
    x_ours = x_stock.clone()
    n = x_stock.numel()
    if name == "EulerAncestralDiscreteScheduler":
        # Stock diffusers draws its ancestral noise with randn_tensor: hand it ito's normals.
        import diffusers.schedulers.scheduling_euler_ancestral_discrete as mod

        def ito_normals(shape, **kw):
            a = ito.noise_address("step", seed=0, step=stock.step_index, len=n)
            z = torch.empty(shape)
            ito.fill_normal(z, seed=a[0], stream=a[1], step=a[2], offset=a[3])
            return z

        monkeypatch.setattr(mod, "randn_tensor", ito_normals)
    for i, t in enumerate(stock.timesteps):
        if name == "DDIMScheduler":
            clipped = bool(cfg.get("thresholding"))
            x_stock = stock.step(model(stock, x_stock, t, pred), t, x_stock, eta=0.0,
                                 use_clipped_model_output=clipped).prev_sample
            x_ours = ours.step(model(ours, x_ours, t, pred), t, x_ours, eta=0.0,
                               use_clipped_model_output=clipped).prev_sample
            err = (x_ours - x_stock).abs().max().item() / (1 + x_stock.abs().max().item())
            assert err < 2e-5, f"step {i}: {err}"
            continue
        x_stock = stock.step(model(stock, stock.scale_model_input(x_stock, t), t, pred), t,
                             x_stock).prev_sample
        x_ours = ours.step(model(ours, ours.scale_model_input(x_ours, t), t, pred), t,
                           x_ours).prev_sample
        assert torch.isfinite(x_ours).all()
        if not torch.isfinite(x_stock).all():
            # diffusers' own UniPC-bh1 last step to sigma = 0 (h = inf) gives NaN; ito's lands on
            # the data prediction.
            assert i == len(stock.timesteps) - 1 and cfg.get("solver_type") == "bh1"
            break
        scale = 1 + x_stock.abs().max().item()
        err = (x_ours - x_stock).abs().max().item() / scale
        assert err < 2e-5, f"step {i}: {err}"
