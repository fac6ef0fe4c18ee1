"""Drop-in diffusers schedulers whose ``step()`` is one fused ito pass.

Each class subclasses diffusers' own (configuration, ``set_timesteps``, ``timesteps``, ``sigmas``,
``order``, ``init_noise_sigma``, ``scale_model_input``, ``add_noise``,
``save_pretrained``/``from_pretrained`` are diffusers' code), and replaces ``step``: the plan is
built at the first step from the scheduler's own noise levels after ``set_timesteps`` (any
spacing, Karras/Lu/exponential sigmas, ``final_sigmas_type``), so ito walks exactly diffusers'
grid::

    import ito.diffusers
    pipe.scheduler = ito.diffusers.DPMSolverMultistepScheduler.from_config(pipe.scheduler.config)

``prev_sample`` is the scheduler's state tensor, updated in place by the next ``step`` (as a
pipeline's loop uses it); clone it to keep a step's result. The first step copies ``sample``
into that state (the caller's tensor is never written).

Noise (the stochastic ones: SDE-DPM-Solver++, Euler-ancestral, DDPM, DDIM at η = 1): by
default ito's counter-based normals, keyed by ``generator.initial_seed()`` when a generator is
passed, else by the scheduler's ``ito_seed`` attribute (0): the same bits on every device and
batch split, but not the normals diffusers would draw, so a seed does not reproduce stock
diffusers' images. Set ``scheduler.ito_noise = "generator"`` to draw instead what stock
diffusers draws — the same ``randn_tensor`` calls on the step's generator, in the same order —
and so reproduce its images to float tolerance (those normals then enter the fused pass as one
more input). ``ito_noise`` and ``ito_seed`` are attributes, not configuration: a pipeline
loaded with ``from_pretrained`` starts from the defaults (set them again). A ``variance_noise``
passed to ``step`` is used as the step's normals, as diffusers uses it.

Configurations ito cannot honour raise ``ValueError`` at construction, naming the option.
"""

from __future__ import annotations

import inspect
from typing import Any, List, Optional, Tuple

import diffusers
import torch
from diffusers import SchedulerMixin  # noqa: F401  (from_pretrained looks it up on this module)
from diffusers.schedulers.scheduling_utils import SchedulerOutput
from diffusers.utils.torch_utils import randn_tensor

from . import Sampler

__all__ = [
    "DDIMScheduler",
    "DDPMScheduler",
    "DEISMultistepScheduler",
    "DPMSolverMultistepScheduler",
    "DPMSolverSinglestepScheduler",
    "EulerAncestralDiscreteScheduler",
    "EulerDiscreteScheduler",
    "HeunDiscreteScheduler",
    "SchedulerMixin",
    "UniPCMultistepScheduler",
]

_PREDICTIONS = {"epsilon": "eps", "sample": "data", "v_prediction": "v"}


class _FusedStep:
    """The part every drop-in shares: the ito sampler over the scheduler's grid, and ``step``."""

    #: Seed of ito's noise when ``step`` gets no generator.
    ito_seed: int = 0
    #: Where the normals of a stochastic step come from: "ito" (the counter) or "generator"
    #: (what stock diffusers draws from the step's generator).
    ito_noise: str = "ito"

    def _ito_draws(self, timestep: Any, model_output: torch.Tensor) -> Optional[torch.dtype]:
        """The dtype stock diffusers draws this step's normals in (None: it draws none)."""
        return None

    def _ito_refuse(self, option: str, value: Any, allowed: str) -> None:
        raise ValueError(f"{option}={value!r}: ito's {type(self).__name__} supports {allowed}")

    def _ito_solver(self) -> str:
        raise NotImplementedError

    def _ito_nodes(self) -> Tuple[List[float], List[float], List[float]]:
        raise NotImplementedError

    def _ito_options(self, sample: torch.Tensor) -> dict:
        return {}

    def _ito_node_of(self, index: int) -> int:
        """The grid node where diffusers' evaluation ``index`` starts a step (one evaluation
        per step here)."""
        return index

    def _ito_trimmed(self, options: dict) -> dict:
        """The options for a grid without diffusers' zero-length last step (which is the step
        the final-step lowering applies to); ``_trimmed`` marks them."""
        return dict(options, _trimmed=True)

    def set_timesteps(self, *args: Any, **kwargs: Any) -> None:
        super().set_timesteps(*args, **kwargs)  # type: ignore[misc]
        self._step_index = None  # diffusers' schedulers reset it; DDIM keeps none of its own
        self._ito_sampler: Optional[Sampler] = None
        self._ito_x: Optional[torch.Tensor] = None

    def _ito_state(self, sample: torch.Tensor) -> torch.Tensor:
        x = getattr(self, "_ito_x", None)
        # What the last step returned comes back: the state itself, or the stage buffer between
        # the evaluations of a Heun-type step (the state stays at the step's start meanwhile).
        if x is sample or getattr(self, "_ito_returned", None) is sample:
            return x
        if x is None or x.shape != sample.shape or x.dtype != sample.dtype or x.device != sample.device:
            x = torch.empty_like(sample, memory_format=torch.contiguous_format)
            self._ito_x = x
        x.copy_(sample)
        return x

    def step(self, model_output: torch.Tensor, timestep: Any, sample: torch.Tensor,
             generator: Optional[torch.Generator] = None, variance_noise: Optional[torch.Tensor] = None,
             return_dict: bool = True) -> Any:
        if self.num_inference_steps is None:
            raise ValueError(
                "Number of inference steps is 'None', you need to run 'set_timesteps' after creating the scheduler")
        if self.ito_noise not in ("ito", "generator"):
            self._ito_refuse("ito_noise", self.ito_noise, "'ito' or 'generator'")
        draws_from = generator
        if self.step_index is None:
            self._init_step_index(timestep)
        x = self._ito_state(sample)
        if self._ito_sampler is None:
            times, alphas, sigmas = self._ito_nodes()
            begin = self.step_index
            node = self._ito_node_of(begin)
            times, alphas, sigmas = times[node:], alphas[node:], sigmas[node:]
            # A zero-length last step (Karras sigmas ending at sigma_min twice) leaves x as it
            # is in every one of these solvers (h = 0): ito's grid stops before it.
            options = self._ito_options(x)
            if len(sigmas) > 2 and sigmas[-1] / alphas[-1] == sigmas[-2] / alphas[-2]:
                times, alphas, sigmas = times[:-1], alphas[:-1], sigmas[:-1]
                options = self._ito_trimmed(options)
            if isinstance(generator, (list, tuple)):
                # a pipeline's per-sample generators: ito's noise is already per element and
                # batch-split invariant; the first seed keys the whole batch
                generator = generator[0] if generator else None
            seed = generator.initial_seed() if generator is not None else self.ito_seed
            self._ito_begin, self._ito_evals = begin, 0
            # after a trimmed zero-length step (one evaluation per step there): the identity
            self._ito_identity_from = len(sigmas) - 1 if options.get("_trimmed") else None
            options.pop("_trimmed", None)
            self._ito_sampler = Sampler.like(x, self._ito_solver(), grid="nodes", times=times,
                                             alphas=alphas, sigmas=sigmas, seed=seed, **options)
        s = self._ito_sampler
        if self._ito_identity_from is not None and self._ito_evals >= self._ito_identity_from:
            self._step_index += 1
            self._ito_returned = x
            return SchedulerOutput(prev_sample=x) if return_dict else (x,)
        ev = s.next_eval(x)
        if ev is None or self._ito_evals != self.step_index - self._ito_begin:
            raise RuntimeError(
                f"timestep {timestep}: evaluation {self.step_index} of the schedule, but ito's plan "
                f"is at {self._ito_evals + self._ito_begin} (steps must be taken in order)")
        noise = variance_noise
        if noise is None and self.ito_noise == "generator":
            # Drawn once the step is known to go ahead: a refused step leaves the generator.
            dtype = self._ito_draws(timestep, model_output)
            if dtype is not None:
                noise = randn_tensor(model_output.shape, generator=draws_from,
                                     device=model_output.device, dtype=dtype)
        if noise is not None:
            noise = noise.to(x.dtype).contiguous()
        s.advance(x, model_output.to(x.dtype).contiguous(), noise)
        self._ito_evals += 1
        self._step_index += 1
        # Between a Heun-type step's evaluations diffusers returns the intermediate point: ito's
        # stage buffer, viewed like x.
        nxt = s.next_eval(x)
        out = s.eval_input(x) if nxt is not None and nxt.on_stage else x
        self._ito_returned = out
        if not return_dict:
            return (out,)
        return SchedulerOutput(prev_sample=out)


def _same_signature(cls: type, parent: type) -> type:
    """Gives ``cls.__init__`` and ``cls.set_timesteps`` the parent's signatures: diffusers'
    ``from_config`` reads the configuration's keys from the first, and pipelines look for
    ``timesteps``/``sigmas`` parameters in the second (custom schedules)."""
    cls.__init__.__signature__ = inspect.signature(parent.__init__)  # type: ignore[attr-defined]

    def set_timesteps(self: Any, *args: Any, **kwargs: Any) -> None:
        _FusedStep.set_timesteps(self, *args, **kwargs)

    set_timesteps.__signature__ = inspect.signature(parent.set_timesteps)  # type: ignore[attr-defined]
    set_timesteps.__doc__ = parent.set_timesteps.__doc__
    cls.set_timesteps = set_timesteps  # type: ignore[attr-defined]
    return cls


def _vp_nodes(sched: Any) -> Tuple[List[float], List[float], List[float]]:
    """The nodes of a VP scheduler after ``set_timesteps``: its own sigmas (VE form, σ/α) as
    (t, α, σ), by its own conversion."""
    sig = sched.sigmas.to(torch.float64)
    alpha_t, sigma_t = sched._sigma_to_alpha_sigma_t(sig)
    ts = [float(t) for t in sched.timesteps] + [-1.0]
    return ts[: len(sig)], alpha_t.tolist(), sigma_t.tolist()


def _ve_nodes(sched: Any) -> Tuple[List[float], List[float], List[float]]:
    """The nodes of a σ-space scheduler (Euler's): the state is x/α, so α = 1 and σ is its
    sigma."""
    sig = sched.sigmas.to(torch.float64).tolist()
    ts = [float(t) for t in sched.timesteps] + [-1.0]
    return ts[: len(sig)], [1.0] * len(sig), sig


def _with_thresholding(c: Any, sample: torch.Tensor, opts: dict) -> dict:
    """``opts`` with diffusers' dynamic thresholding when the configuration asks for it (the
    quantile is per sample: the batch is the sample's first dimension)."""
    if c.thresholding:
        opts["thresholding"] = (c.dynamic_thresholding_ratio, c.sample_max_value,
                                sample.numel() // sample.shape[0])
    return opts


def _trimmed_multistep(s: Any, options: dict) -> dict:
    """A multistep scheduler's options for ito's grid without diffusers' zero-length last step:
    diffusers lowers that step to first order (no effect: h = 0) and, below 15 steps, caps the
    one before at second order; ito's options would lower the last step of the shorter grid to
    first order instead. Second order is the cap anyway for orders 1–2; a third-order run needs
    it, which ito's options cannot express alone: refused."""
    c = s.config
    if c.solver_order == 3 and c.lower_order_final and len(s.timesteps) < 15:
        option = "final_sigmas_type" if hasattr(c, "final_sigmas_type") else "use_karras_sigmas"
        s._ito_refuse(option, getattr(c, option),
                      "values without a zero-length last step (Karras sigmas ending at sigma_min "
                      "twice) at solver_order=3 below 15 steps")
    return dict(options, lower_order_final=False, euler_at_final=False, _trimmed=True)


def _singlestep_orders(order: int, steps: int, lower_order_final: bool, clean_end: bool) -> List[int]:
    """The order of each step of ito's singlestep plan over ``steps`` steps (ito's
    ``singlestep_orders``, which follows diffusers' ``get_order_list``; the drop-in checks that
    the grid it hands ito gets diffusers' orders)."""
    lower = lower_order_final or clean_end or steps % order != 0
    group = list(range(1, order + 1))
    if not lower or order == 1:
        v = (group * (steps // order + 1))[:steps]
    else:
        full = steps // order - 1 if steps % order == 0 else steps // order
        v = group * full
        v += list(range(1, order)) + [1] if steps % order == 0 else list(range(1, steps - len(v) + 1))
    if clean_end and v:
        v[-1] = 1
    return v


def _check_common(s: Any, predictions: Tuple[str, ...] = tuple(_PREDICTIONS)) -> None:
    c = s.config
    if c.prediction_type not in predictions:
        s._ito_refuse("prediction_type", c.prediction_type, ", ".join(predictions))
    if getattr(c, "use_flow_sigmas", False):
        s._ito_refuse("use_flow_sigmas", c.use_flow_sigmas, "False")
    if getattr(c, "rescale_betas_zero_snr", False):
        s._ito_refuse("rescale_betas_zero_snr", True, "False (a zero-SNR first step has no x = α·x₀ + σ·ε form)")


class DPMSolverMultistepScheduler(_FusedStep, diffusers.DPMSolverMultistepScheduler):
    """diffusers' ``DPMSolverMultistepScheduler`` with ito's fused step: DPM-Solver and
    DPM-Solver++ orders 1–3, SDE-DPM-Solver++ orders 1–3, the midpoint and (DPM-Solver++(2M))
    Heun forms, ε / x₀ / v prediction, dynamic thresholding, every sigma spacing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        c = self.config
        if c.algorithm_type not in ("dpmsolver", "dpmsolver++", "sde-dpmsolver++"):
            self._ito_refuse("algorithm_type", c.algorithm_type, "dpmsolver, dpmsolver++, sde-dpmsolver++")
        if c.prediction_type not in _PREDICTIONS:
            self._ito_refuse("prediction_type", c.prediction_type, "epsilon, sample, v_prediction")
        if c.solver_order not in (1, 2, 3):
            self._ito_refuse("solver_order", c.solver_order, "1, 2, 3")
        if c.algorithm_type == "sde-dpmsolver++" and c.solver_order == 3:
            # ito's SDE-DPM-Solver++(3M) keeps the exact integral of the D2 term; diffusers'
            # differs from it by -alpha_t * D2 (README, "Checked against diffusers").
            self._ito_refuse("solver_order", c.solver_order, "1 or 2 with sde-dpmsolver++")
        if c.solver_type == "heun" and (c.solver_order != 2 or c.algorithm_type != "dpmsolver++"):
            self._ito_refuse("solver_type", c.solver_type, "heun with dpmsolver++ of order 2")
        if c.variance_type is not None:
            self._ito_refuse("variance_type", c.variance_type, "None")
        if c.use_flow_sigmas:
            self._ito_refuse("use_flow_sigmas", c.use_flow_sigmas, "False")

    def _ito_draws(self, timestep: Any, model_output: torch.Tensor) -> Optional[torch.dtype]:
        return torch.float32 if self.config.algorithm_type == "sde-dpmsolver++" else None

    def _ito_solver(self) -> str:
        c = self.config
        prefix = {"dpmsolver": "dpm", "dpmsolver++": "dpmpp", "sde-dpmsolver++": "sde-dpmpp"}[c.algorithm_type]
        order = {1: "1", 2: "2m", 3: "3m"}[c.solver_order]
        return f"{prefix}-{order}" + ("-heun" if c.solver_type == "heun" else "")

    def _ito_nodes(self) -> Tuple[List[float], List[float], List[float]]:
        return _vp_nodes(self)

    def _ito_options(self, sample: torch.Tensor) -> dict:
        c = self.config
        opts = {
            "prediction": _PREDICTIONS[c.prediction_type],
            # diffusers lowers the last steps below 15 steps of its whole schedule (ito would
            # count the plan's, which is shorter after set_begin_index), and always lowers the
            # step into a noise-free end
            "lower_order_final": c.lower_order_final and len(self.timesteps) < 15,
            "euler_at_final": c.euler_at_final or c.final_sigmas_type == "zero",
        }
        return _with_thresholding(c, sample, opts)

    def _ito_trimmed(self, options: dict) -> dict:
        return _trimmed_multistep(self, options)


_same_signature(DPMSolverMultistepScheduler, diffusers.DPMSolverMultistepScheduler)


class DPMSolverSinglestepScheduler(_FusedStep, diffusers.DPMSolverSinglestepScheduler):
    """diffusers' ``DPMSolverSinglestepScheduler`` with ito's fused step: DPM-Solver and
    DPM-Solver++ orders 1–3 (midpoint form) over diffusers' order list, ε / x₀ / v prediction,
    dynamic thresholding. A group of k steps is one ito step of k stages: ``step`` returns the
    intermediate updates from ito's stage buffer, as diffusers returns them, and the state stays
    at the group's start meanwhile."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        c = self.config
        _check_common(self)
        if c.algorithm_type not in ("dpmsolver", "dpmsolver++"):
            self._ito_refuse("algorithm_type", c.algorithm_type, "dpmsolver, dpmsolver++")
        if c.solver_order not in (1, 2, 3):
            self._ito_refuse("solver_order", c.solver_order, "1, 2, 3")
        if c.solver_type != "midpoint" and c.solver_order > 1:
            self._ito_refuse("solver_type", c.solver_type, "midpoint")
        if c.variance_type is not None:
            self._ito_refuse("variance_type", c.variance_type, "None")

    def _ito_solver(self) -> str:
        c = self.config
        prefix = {"dpmsolver": "dpm", "dpmsolver++": "dpmpp"}[c.algorithm_type]
        return f"{prefix}-{c.solver_order}" + ("s" if c.solver_order > 1 else "")

    def _ito_nodes(self) -> Tuple[List[float], List[float], List[float]]:
        return _vp_nodes(self)

    def _ito_wanted(self) -> List[int]:
        """diffusers' orders from the begin index, lowered where the model outputs they need
        are missing (img2img), as its ``step`` takes them."""
        wanted, have = [], 0
        for o in self.order_list[self.step_index or 0:]:
            o = min(o, have + 1)
            have = 1 if o == 1 else have + 1
            wanted.append(o)
        return wanted

    def _ito_options(self, sample: torch.Tensor) -> dict:
        c = self.config
        wanted = self._ito_wanted()
        clean_end = c.final_sigmas_type == "zero"
        if wanted != _singlestep_orders(c.solver_order, len(wanted), c.lower_order_final, clean_end):
            self._ito_refuse("begin_index", self.step_index,
                             "a begin index where diffusers' order list starts a group as ito's "
                             "would (0, or the start of a group of the remaining steps)")
        opts = {"prediction": _PREDICTIONS[c.prediction_type],
                "lower_order_final": c.lower_order_final}
        return _with_thresholding(c, sample, opts)

    def _ito_trimmed(self, options: dict) -> dict:
        # A zero-length last step of order 1 leaves x as it is (h = 0): ito's grid stops
        # before it, with the option that gives the other steps diffusers' orders. Of a higher
        # order it closes a group that spans a real interval: no grid without it is the same.
        wanted = self._ito_wanted()
        if wanted[-1] == 1:
            for lower in (options["lower_order_final"], not options["lower_order_final"]):
                if _singlestep_orders(self.config.solver_order, len(wanted) - 1, lower,
                                      False) == wanted[:-1]:
                    return dict(options, lower_order_final=lower, _trimmed=True)
        self._ito_refuse("final_sigmas_type", self.config.final_sigmas_type,
                         "settings whose zero-length last step (Karras sigmas ending at "
                         "sigma_min twice) is of order 1 in diffusers' order list")
        return options

    def step(self, model_output: torch.Tensor, timestep: Any, sample: torch.Tensor,
             generator: Optional[torch.Generator] = None, return_dict: bool = True) -> Any:
        return super().step(model_output, timestep, sample, generator=generator,
                            return_dict=return_dict)


_same_signature(DPMSolverSinglestepScheduler, diffusers.DPMSolverSinglestepScheduler)


class UniPCMultistepScheduler(_FusedStep, diffusers.UniPCMultistepScheduler):
    """diffusers' ``UniPCMultistepScheduler`` with ito's fused step: UniPC orders 1–3 with the
    UniC corrector, B(h) of kind bh1 or bh2, ε / x₀ / v prediction, thresholding."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        c = self.config
        _check_common(self)
        if c.solver_order not in (1, 2, 3):
            self._ito_refuse("solver_order", c.solver_order, "1, 2, 3")
        if not c.predict_x0:
            self._ito_refuse("predict_x0", c.predict_x0, "True")
        if list(c.disable_corrector):
            self._ito_refuse("disable_corrector", c.disable_corrector, "[] (the corrector on every step)")
        if c.solver_p is not None:
            self._ito_refuse("solver_p", c.solver_p, "None")

    def _ito_trimmed(self, options: dict) -> dict:
        # diffusers' UniPC still corrects after its zero-length last step and counts it in its
        # order rule: not the same run without it.
        self._ito_refuse("final_sigmas_type", self.config.final_sigmas_type,
                         "'zero' with use_karras_sigmas (no zero-length last step)")
        return options

    def _ito_solver(self) -> str:
        c = self.config
        if c.solver_type == "bh1" and c.solver_order > 1:
            return f"unipc-bh1-{c.solver_order}"
        return f"unipc-{c.solver_order}"

    def _ito_nodes(self) -> Tuple[List[float], List[float], List[float]]:
        return _vp_nodes(self)

    def _ito_options(self, sample: torch.Tensor) -> dict:
        c = self.config
        # diffusers' UniPC lowers the last steps to the steps left (any step count)
        opts = {"prediction": _PREDICTIONS[c.prediction_type], "lower_order_final": c.lower_order_final}
        return _with_thresholding(c, sample, opts)


class DEISMultistepScheduler(_FusedStep, diffusers.DEISMultistepScheduler):
    """diffusers' ``DEISMultistepScheduler`` with ito's fused step: DEIS orders 1–3 (log-ρ),
    ε / x₀ / v prediction, thresholding."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        c = self.config
        _check_common(self)
        if c.solver_order not in (1, 2, 3):
            self._ito_refuse("solver_order", c.solver_order, "1, 2, 3")
        if c.algorithm_type != "deis" or c.solver_type != "logrho":
            self._ito_refuse("algorithm_type", c.algorithm_type, "deis with solver_type logrho")

    def _ito_solver(self) -> str:
        return f"deis-{self.config.solver_order}"

    def _ito_trimmed(self, options: dict) -> dict:
        return _trimmed_multistep(self, options)

    def _ito_nodes(self) -> Tuple[List[float], List[float], List[float]]:
        return _vp_nodes(self)

    def _ito_options(self, sample: torch.Tensor) -> dict:
        c = self.config
        # as DPM-Solver: below 15 steps of diffusers' whole schedule
        opts = {"prediction": _PREDICTIONS[c.prediction_type],
                "lower_order_final": c.lower_order_final and len(self.timesteps) < 15}
        return _with_thresholding(c, sample, opts)


class EulerDiscreteScheduler(_FusedStep, diffusers.EulerDiscreteScheduler):
    """diffusers' ``EulerDiscreteScheduler`` with ito's fused step (ε prediction, no churn):
    the state in σ-space as diffusers keeps it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _check_common(self, ("epsilon",))

    def _ito_solver(self) -> str:
        return "euler"

    def _ito_nodes(self) -> Tuple[List[float], List[float], List[float]]:
        return _ve_nodes(self)

    def _ito_options(self, sample: torch.Tensor) -> dict:
        return {"prediction": "eps"}

    def step(self, model_output: torch.Tensor, timestep: Any, sample: torch.Tensor,
             s_churn: float = 0.0, s_tmin: float = 0.0, s_tmax: float = float("inf"),
             s_noise: float = 1.0, generator: Optional[torch.Generator] = None,
             return_dict: bool = True) -> Any:
        if s_churn != 0.0:
            self._ito_refuse("s_churn", s_churn, "0")
        return super().step(model_output, timestep, sample, generator=generator,
                            return_dict=return_dict)


class EulerAncestralDiscreteScheduler(_FusedStep, diffusers.EulerAncestralDiscreteScheduler):
    """diffusers' ``EulerAncestralDiscreteScheduler`` with ito's fused step and ito's noise
    (ε prediction)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _check_common(self, ("epsilon",))

    def _ito_draws(self, timestep: Any, model_output: torch.Tensor) -> Optional[torch.dtype]:
        return model_output.dtype

    def _ito_solver(self) -> str:
        return "euler-a"

    def _ito_nodes(self) -> Tuple[List[float], List[float], List[float]]:
        return _ve_nodes(self)

    def _ito_options(self, sample: torch.Tensor) -> dict:
        return {"prediction": "eps"}

    def step(self, model_output: torch.Tensor, timestep: Any, sample: torch.Tensor,
             generator: Optional[torch.Generator] = None, return_dict: bool = True) -> Any:
        return super().step(model_output, timestep, sample, generator=generator,
                            return_dict=return_dict)


for _cls in (UniPCMultistepScheduler, DEISMultistepScheduler, EulerDiscreteScheduler,
             EulerAncestralDiscreteScheduler):
    _same_signature(_cls, _cls.__mro__[2])


class _OwnIndex:
    """For diffusers schedulers that keep no step index (DDIM, DDPM: they step from whatever
    timestep they are given): ito's plan walks the schedule in order, so the drop-in keeps one."""

    _step_index: Optional[int] = None
    _begin_index: Optional[int] = None

    @property
    def step_index(self) -> Optional[int]:
        return self._step_index

    def _init_step_index(self, timestep: Any) -> None:
        matches = (self.timesteps == timestep).nonzero()
        if len(matches) == 0:
            raise ValueError(f"timestep {timestep}: not in the schedule set by set_timesteps")
        self._step_index = int(matches[0])


class DDIMScheduler(_FusedStep, diffusers.DDIMScheduler):
    """diffusers' ``DDIMScheduler`` with ito's fused step: η = 0 (DDIM) or η = 1 (the DDPM
    posterior, with ito's noise), ε / x₀ / v prediction, thresholding. Needs ``clip_sample=False``
    (a clamp of x₀ does not fuse into the update; Stable Diffusion's configurations have it off)
    and timesteps whose DDIM step lands on the next one (the default "leading" spacing does)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _check_common(self)
        if self.config.clip_sample:
            self._ito_refuse("clip_sample", True, "False (dynamic thresholding is available)")

    step_index = _OwnIndex.step_index
    _init_step_index = _OwnIndex._init_step_index
    _step_index: Optional[int] = None
    _begin_index: Optional[int] = None

    def _ito_solver(self) -> str:
        return "ddpm" if self._ito_eta == 1.0 else "ddim"

    def _ito_draws(self, timestep: Any, model_output: torch.Tensor) -> Optional[torch.dtype]:
        return model_output.dtype if self._ito_eta > 0 else None

    def _ito_nodes(self) -> Tuple[List[float], List[float], List[float]]:
        ratio = self.config.num_train_timesteps // self.num_inference_steps
        ts = [int(t) for t in self.timesteps]
        for a, b in zip(ts, ts[1:]):
            if a - ratio != b:
                self._ito_refuse("timestep_spacing", self.config.timestep_spacing,
                                 "a spacing whose DDIM step lands on the next timestep ('leading')")
        abar = self.alphas_cumprod.to(torch.float64)
        nodes = [float(abar[t]) for t in ts]
        last = ts[-1] - ratio
        nodes.append(float(abar[last]) if last >= 0 else float(self.final_alpha_cumprod))
        alphas = [a ** 0.5 for a in nodes]
        sigmas = [(1.0 - a) ** 0.5 for a in nodes]
        return [float(t) for t in ts] + [float(last)], alphas, sigmas

    def _ito_options(self, sample: torch.Tensor) -> dict:
        c = self.config
        opts = {"prediction": _PREDICTIONS[c.prediction_type]}
        return _with_thresholding(c, sample, opts)

    def step(self, model_output: torch.Tensor, timestep: Any, sample: torch.Tensor, eta: float = 0.0,
             use_clipped_model_output: bool = False, generator: Optional[torch.Generator] = None,
             variance_noise: Optional[torch.Tensor] = None, return_dict: bool = True) -> Any:
        if eta not in (0.0, 1.0):
            self._ito_refuse("eta", eta, "0 (DDIM) or 1 (the DDPM posterior)")
        if self.config.thresholding and not use_clipped_model_output:
            # ito's DDIM steps from the thresholded x0 alone (its ε follows from it); diffusers'
            # does that only with use_clipped_model_output
            self._ito_refuse("use_clipped_model_output", use_clipped_model_output,
                             "True with thresholding")
        if getattr(self, "_ito_sampler", None) is not None and eta != self._ito_eta:
            self._ito_refuse("eta", eta, f"the same value on every step of a run ({self._ito_eta})")
        self._ito_eta = eta
        return super().step(model_output, timestep, sample, generator=generator,
                            variance_noise=variance_noise, return_dict=return_dict)


_same_signature(DDIMScheduler, diffusers.DDIMScheduler)


class HeunDiscreteScheduler(_FusedStep, diffusers.HeunDiscreteScheduler):
    """diffusers' ``HeunDiscreteScheduler`` with ito's fused step (ε prediction): two model
    evaluations per step, the second at the Euler predictor that ``step`` returns in between
    (ito's stage buffer); the last step into σ = 0 is Euler's, as diffusers takes it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _check_common(self, ("epsilon",))

    def _ito_solver(self) -> str:
        return "heun"

    def _ito_nodes(self) -> Tuple[List[float], List[float], List[float]]:
        # diffusers interleaves [s0, s1, s1, …, s_{N−1}, s_{N−1}, 0]: the grid is every other
        # entry after the first.
        s = self.sigmas.to(torch.float64).tolist()
        sig = [s[0]] + s[1::2]
        return [0.0] * len(sig), [1.0] * len(sig), sig

    def _ito_options(self, sample: torch.Tensor) -> dict:
        return {"prediction": "eps"}

    def _ito_node_of(self, index: int) -> int:
        # two evaluations per step: evaluation 2k starts step k
        if index % 2:
            self._ito_refuse("begin_index", index, "the first evaluation of a step (even)")
        return index // 2

    def step(self, model_output: torch.Tensor, timestep: Any, sample: torch.Tensor,
             return_dict: bool = True) -> Any:
        return super().step(model_output, timestep, sample, return_dict=return_dict)


_same_signature(HeunDiscreteScheduler, diffusers.HeunDiscreteScheduler)


class DDPMScheduler(_FusedStep, diffusers.DDPMScheduler):
    """diffusers' ``DDPMScheduler`` with ito's fused step: the posterior step with the
    ``fixed_small`` variance (DDIM at η = 1) and ito's noise, over any timestep spacing; ε / x₀ /
    v prediction, thresholding. Needs ``clip_sample=False``."""

    step_index = _OwnIndex.step_index
    _init_step_index = _OwnIndex._init_step_index
    _step_index: Optional[int] = None
    _begin_index: Optional[int] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _check_common(self)
        if self.config.clip_sample:
            self._ito_refuse("clip_sample", True, "False (dynamic thresholding is available)")
        if self.config.variance_type != "fixed_small":
            self._ito_refuse("variance_type", self.config.variance_type, "fixed_small")

    def _ito_solver(self) -> str:
        return "ddpm"

    def _ito_draws(self, timestep: Any, model_output: torch.Tensor) -> Optional[torch.dtype]:
        return model_output.dtype if int(timestep) > 0 else None

    def _ito_nodes(self) -> Tuple[List[float], List[float], List[float]]:
        # diffusers steps from each timestep to the next in its list, the last to alpha-bar = 1
        abar = self.alphas_cumprod.to(torch.float64)
        ts = [int(t) for t in self.timesteps]
        nodes = [float(abar[t]) for t in ts] + [1.0]
        return ([float(t) for t in ts] + [-1.0], [a ** 0.5 for a in nodes],
                [(1.0 - a) ** 0.5 for a in nodes])

    def _ito_options(self, sample: torch.Tensor) -> dict:
        c = self.config
        opts = {"prediction": _PREDICTIONS[c.prediction_type]}
        return _with_thresholding(c, sample, opts)

    def step(self, model_output: torch.Tensor, timestep: Any, sample: torch.Tensor,
             generator: Optional[torch.Generator] = None, return_dict: bool = True) -> Any:
        return super().step(model_output, timestep, sample, generator=generator,
                            return_dict=return_dict)


_same_signature(DDPMScheduler, diffusers.DDPMScheduler)
