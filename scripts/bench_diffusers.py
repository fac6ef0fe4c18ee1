"""Side by side: one steady-state sampler step of HuggingFace diffusers vs ito's fused step.

diffusers side: the scheduler's ``step()`` on float32 CPU tensors of N elements (shaped
like a latent, (1, 4, H, W), when N/4 is a square, else (1, N)), with a fixed random
model output (the network is not timed) and ``torch.set_num_threads(T)``. The scheduler
is set to 1000 inference steps; the first ``--warmup`` steps are run untimed and the next
``--steps`` are timed one by one with ``time.perf_counter`` (torch on CPU is synchronous),
the returned sample being fed back as in a pipeline. One further step runs under a
``TorchDispatchMode`` that counts the aten ops producing an N-element tensor (the
full-tensor passes) and the bytes those ops read and write.

ito side (unless ``--diffusers-only``): ``cargo bench --bench solvers -- REGEX`` with
``RAYON_NUM_THREADS=T`` for the same solvers at the same N and the bandwidth ceiling
(``ceiling/copy``, ``ceiling/triad`` at 2^24, measured in the same run), then the
criterion results (``target/criterion/<group>/<function>/<param>/new/estimates.json``,
``mean.point_estimate`` in ns; bytes per step from the throughput criterion recorded in
``benchmark.json`` beside it) are read back into one table.

Run through scripts/bench_diffusers.sh, which provides the pinned environment.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# ito bench name -> (diffusers class name, config, description)
SOLVERS = [
    (
        "dpmpp-2m",
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "dpmsolver++", "solver_order": 2, "prediction_type": "epsilon"},
        "DPMSolverMultistepScheduler(algorithm_type='dpmsolver++', solver_order=2)",
    ),
    (
        "unipc-2",
        "UniPCMultistepScheduler",
        {"solver_type": "bh2", "solver_order": 2, "prediction_type": "epsilon"},
        "UniPCMultistepScheduler(solver_type='bh2', solver_order=2)",
    ),
    (
        "sde-dpmpp-2m",
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "sde-dpmsolver++", "solver_order": 2, "prediction_type": "epsilon"},
        "DPMSolverMultistepScheduler(algorithm_type='sde-dpmsolver++', solver_order=2); "
        "step() draws its own noise from a torch.Generator (drawing it is timed, as in ito)",
    ),
]

ITO_SIZES = (1 << 20, 1 << 24)  # the N benches/solvers.rs measures
CEILING_N = 1 << 24  # benches/common/mod.rs measures copy and triad at 2^24 only
INFERENCE_STEPS = 1000


# ----------------------------------------------------------------------------- machine


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def command_output(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unavailable"


def print_machine(threads: int) -> None:
    print("== machine")
    print(f"cpu: {cpu_model()}")
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    print(f"cores: os.cpu_count()={os.cpu_count()}, usable by this process={affinity}")
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    print(f"memory: {mem}; kernel: {platform.system()} {platform.release()} {platform.machine()}")
    print(f"threads: T={threads} (torch.set_num_threads(T); RAYON_NUM_THREADS=T for cargo bench)")
    print()


def print_versions(with_torch: bool, with_rust: bool) -> None:
    print("== versions")
    print(f"python {platform.python_version()}")
    if with_torch:
        import diffusers
        import numpy
        import torch

        print(f"torch {torch.__version__}, diffusers {diffusers.__version__}, numpy {numpy.__version__}")
        first = torch.__config__.parallel_info().splitlines()
        backend = [l.strip() for l in first if l.startswith("ATen parallel backend")]
        if backend:
            print(f"torch {backend[0]}")
    if with_rust:
        print(command_output(["rustc", "-V"]))
        print(command_output(["cargo", "-V"]))
        head = command_output(["git", "rev-parse", "--short", "HEAD"])
        dirty = command_output(["git", "status", "--porcelain", "--untracked-files=no"])
        print(f"ito: git {head}{' (+ uncommitted changes)' if dirty not in ('', 'unavailable') else ''}")
    print()


# ---------------------------------------------------------------------------- diffusers


def shape_for(n: int) -> tuple[int, ...]:
    """(1, 4, H, W) with H = W when N/4 is a perfect square (a latent), else (1, N)."""
    if n % 4 == 0:
        side = math.isqrt(n // 4)
        if side * side == n // 4:
            return (1, 4, side, side)
    return (1, n)


def make_pass_counter(n: int):
    """A TorchDispatchMode that records every aten op with an N-element output."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten

    # Ops that overwrite their destination without reading it.
    overwrite = {"copy_", "fill_", "zero_", "normal_", "uniform_", "random_", "exponential_", "bernoulli_"}

    class PassCounter(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.ops: list[tuple[str, int, int]] = []  # (op, bytes read, bytes written)

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            if func.is_view:
                return out
            outs = {}
            for t in tree_flatten(out)[0]:
                if isinstance(t, torch.Tensor) and t.numel() == n:
                    outs[t.data_ptr()] = t.numel() * t.element_size()
            if not outs:
                return out
            name = func.overloadpacket.__name__
            skip = set(outs) if name in overwrite else set()
            if "out" in kwargs:
                skip |= {t.data_ptr() for t in tree_flatten(kwargs["out"])[0] if isinstance(t, torch.Tensor)}
            reads = {}
            for t in tree_flatten((args, {k: v for k, v in kwargs.items() if k != "out"}))[0]:
                if isinstance(t, torch.Tensor) and t.numel() == n and t.data_ptr() not in skip:
                    reads[t.data_ptr()] = t.numel() * t.element_size()
            self.ops.append((name, sum(reads.values()), sum(outs.values())))
            return out

    return PassCounter()


def bench_diffusers(n: int, steps: int, warmup: int, count: bool) -> dict[str, dict]:
    import diffusers
    import torch

    shape = shape_for(n)
    gen = torch.Generator().manual_seed(0)
    model_output = torch.randn(shape, generator=gen, dtype=torch.float32)
    print(f"== diffusers: scheduler.step() on float32 {tuple(shape)} (N = {n}), "
          f"{INFERENCE_STEPS} inference steps; {warmup} untimed warm-up steps, then {steps} timed")
    results = {}
    for name, cls_name, config, desc in SOLVERS:
        sched = getattr(diffusers, cls_name)(**config)
        sched.set_timesteps(INFERENCE_STEPS)
        sample = torch.randn(shape, generator=gen, dtype=torch.float32) * sched.init_noise_sigma
        noise_gen = torch.Generator().manual_seed(1)
        timesteps = list(sched.timesteps)
        needed = warmup + steps + (1 if count else 0)
        if needed > len(timesteps) - 2:
            sys.exit(f"--warmup + --steps must stay below {len(timesteps) - 2}")

        def step(t, sample):
            kw = {"generator": noise_gen} if cls_name == "DPMSolverMultistepScheduler" else {}
            return sched.step(model_output, t, sample, **kw).prev_sample

        times = []
        for i in range(warmup + steps):
            start = time.perf_counter()
            sample = step(timesteps[i], sample)
            elapsed = time.perf_counter() - start
            if i >= warmup:
                times.append(elapsed)
        if not torch.isfinite(sample).all():
            sys.exit(f"{name}: diffusers produced non-finite values")
        r = {
            "desc": desc,
            "median_ms": statistics.median(times) * 1e3,
            "min_ms": min(times) * 1e3,
            "times_ms": [t * 1e3 for t in times],
        }
        if count:
            counter = make_pass_counter(n)
            with counter:
                sample = step(timesteps[warmup + steps], sample)
            r["ops"] = counter.ops
        results[name] = r

    for name, r in results.items():
        print(f"{name}: {r['desc']}")
        print(f"  ms/step: median {r['median_ms']:.3f}, min {r['min_ms']:.3f} "
              f"(all: {', '.join(f'{t:.2f}' for t in r['times_ms'])})")
        if "ops" in r:
            ops = r["ops"]
            hist: dict[str, int] = {}
            for op, _, _ in ops:
                hist[op] = hist.get(op, 0) + 1
            total = sum(rd + wr for _, rd, wr in ops)
            print(f"  full-tensor passes (aten ops with an N-element output): {len(ops)} "
                  f"[{', '.join(f'{k}x{v}' for k, v in sorted(hist.items()))}]")
            print(f"  bytes those ops read + write: {total / n:.0f} B/element = {total / 1e6:.1f} MB "
                  f"-> {total / (r['median_ms'] * 1e6):.2f} GB/s at the median time")
    print("  (passes counted at the aten dispatch level on one extra step; reads are the distinct "
          "N-element inputs of each op, a random fill is one write)")
    print()
    return results


# ------------------------------------------------------------------------------ criterion


def criterion_home() -> Path:
    """Where criterion 0.5 writes: $CRITERION_HOME, else $CARGO_TARGET_DIR/criterion, else target/criterion."""
    if os.environ.get("CRITERION_HOME"):
        return Path(os.environ["CRITERION_HOME"])
    target = os.environ.get("CARGO_TARGET_DIR")
    return (Path(target) if target else ROOT / "target") / "criterion"


def filename_safe(s: str) -> str:
    """criterion 0.5's make_filename_safe on Linux: reserved characters to '_', 64 bytes at most."""
    s = re.sub(r'[?"/\\*<>:|^]', "_", s)
    b = s.encode()
    if len(b) > 64:
        cut = 64
        while cut > 0 and (b[cut] & 0xC0) == 0x80:
            cut -= 1
        s = b[:cut].decode()
    return s


def find_result_dir(home: Path, full_id: str) -> Path:
    """The directory of bench id GROUP/FUNCTION/PARAM: the one whose new/benchmark.json names
    that full_id (criterion may suffix a directory to keep it unique), else the computed path."""
    for meta in home.glob("**/new/benchmark.json"):
        try:
            if json.loads(meta.read_text()).get("full_id") == full_id:
                return meta.parent.parent
        except (OSError, ValueError):
            continue
    return home.joinpath(*(filename_safe(part) for part in full_id.split("/")))


def read_estimate(home: Path, full_id: str) -> dict:
    """mean time (ns), bytes per iteration (if criterion recorded a Bytes throughput) and
    the file's modification time, for one bench id."""
    d = find_result_dir(home, full_id) / "new"
    est = json.loads((d / "estimates.json").read_text())
    out = {
        "path": d / "estimates.json",
        "mean_ns": float(est["mean"]["point_estimate"]),
        "median_ns": float(est["median"]["point_estimate"]),
        "mtime": (d / "estimates.json").stat().st_mtime,
        "bytes": None,
    }
    try:
        tp = json.loads((d / "benchmark.json").read_text()).get("throughput") or {}
        if "Bytes" in tp:
            out["bytes"] = int(tp["Bytes"])
    except (OSError, ValueError):
        pass
    return out


def ito_ids(n: int) -> tuple[list[str], list[str], str]:
    solver_ids = [f"solver_step/{name}/{n}" for name, *_ in SOLVERS]
    ceiling_ids = [f"ceiling/copy/{CEILING_N}", f"ceiling/triad/{CEILING_N}"]
    names = "|".join(name for name, *_ in SOLVERS)  # plain [a-z0-9-] names
    regex = f"^(solver_step/({names})/{n}|ceiling/(copy|triad)/{CEILING_N})$"
    return solver_ids, ceiling_ids, regex


def bench_ito(n: int, threads: int, run_cargo: bool, extra: list[str]) -> dict[str, dict]:
    solver_ids, ceiling_ids, regex = ito_ids(n)
    home = criterion_home()
    cmd = ["cargo", "bench", "--bench", "solvers", "--", regex, *extra]
    env_line = f"RAYON_NUM_THREADS={threads}"
    started = time.time()
    if run_cargo:
        print("== ito: criterion bench (benches/solvers.rs)")
        print(f"$ {env_line} {shlex.join(cmd)}", flush=True)
        env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
        rc = subprocess.run(cmd, cwd=ROOT, env=env).returncode
        if rc != 0:
            sys.exit(f"cargo bench failed (exit {rc})")
        print()
    else:
        print(f"== ito: reading existing criterion results under {home} (cargo bench not run; it would be:")
        print(f"$ {env_line} {shlex.join(cmd)})")
    results = {}
    for full_id in solver_ids + ceiling_ids:
        try:
            r = read_estimate(home, full_id)
        except (OSError, ValueError, KeyError) as e:
            print(f"{full_id}: no result ({e})")
            continue
        if r["bytes"] is None and full_id.startswith("solver_step/dpmpp-2m/"):
            r["bytes"] = 5 * 4 * n  # x, model output, previous data prediction in; x, data prediction out
        stale = " (STALE: older than this run)" if run_cargo and r["mtime"] < started else ""
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["mtime"]))
        print(f"{full_id}: mean {r['mean_ns'] / 1e6:.3f} ms, median {r['median_ns'] / 1e6:.3f} ms, "
              f"{r['bytes'] if r['bytes'] is not None else '?'} B/iter  [{r['path'].relative_to(ROOT) if r['path'].is_relative_to(ROOT) else r['path']}, {when}]{stale}")
        results[full_id] = r
    print()
    return results


# ---------------------------------------------------------------------------------- table


def print_table(n: int, diff: dict | None, ito: dict | None) -> None:
    solver_ids, ceiling_ids, _ = ito_ids(n)
    triad = (ito or {}).get(ceiling_ids[1])
    triad_gbs = triad["bytes"] / triad["mean_ns"] if triad and triad["bytes"] else None
    header = ["solver", "diffusers ms/step", "ito ms/step", "speed-up", "ito GB/s", "triad GB/s", "ito/triad"]
    rows = []
    for (name, *_), full_id in zip(SOLVERS, solver_ids):
        d = (diff or {}).get(name)
        i = (ito or {}).get(full_id)
        d_ms = d["median_ms"] if d else None
        i_ms = i["mean_ns"] / 1e6 if i else None
        gbs = i["bytes"] / i["mean_ns"] if i and i["bytes"] else None  # bytes/ns = GB/s
        rows.append([
            name,
            f"{d_ms:.3f}" if d_ms is not None else "-",
            f"{i_ms:.3f}" if i_ms is not None else "-",
            f"{d_ms / i_ms:.1f}x" if d_ms and i_ms else "-",
            f"{gbs:.2f}" if gbs else "-",
            f"{triad_gbs:.2f}" if triad_gbs else "-",
            f"{gbs / triad_gbs:.0%}" if gbs and triad_gbs else "-",
        ])
    widths = [max(len(r[k]) for r in [header] + rows) for k in range(len(header))]
    print(f"== N = {n} float32 elements")
    line = lambda r: "| " + " | ".join(c.ljust(w) if k == 0 else c.rjust(w) for k, (c, w) in enumerate(zip(r, widths))) + " |"
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))
    print("diffusers: median of the timed steps; ito: criterion mean (target/criterion/.../new/estimates.json);")
    print("speed-up = diffusers / ito; ito GB/s = the step's own traffic (each tensor read once, each output")
    print(f"written once: the throughput benches/solvers.rs reports) / time; triad = a[i] = b[i] + s*c[i] at N = {CEILING_N},")
    print("12 B/element, all threads, measured in the same cargo bench run as the solver steps.")
    if n != CEILING_N and ito:
        print(f"At N = {n} the step's tensors ({n * 4 / 2**20:.0f} MiB each) may partly stay in cache, "
              "so ito/triad can exceed 100%.")


# ----------------------------------------------------------------------------------- main


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=1 << 24, help="elements per tensor (default 2^24)")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for torch and rayon (default os.cpu_count())")
    p.add_argument("--steps", type=int, default=10, help="timed diffusers steps (default 10)")
    p.add_argument("--warmup", type=int, default=3, help="untimed diffusers steps first (default 3)")
    p.add_argument("--no-count", action="store_true", help="skip counting diffusers' full-tensor passes")
    only = p.add_mutually_exclusive_group()
    only.add_argument("--diffusers-only", action="store_true", help="time diffusers only")
    only.add_argument("--ito-only", action="store_true", help="run the ito criterion bench only")
    p.add_argument("--no-cargo", action="store_true",
                   help="do not run cargo bench: read the criterion results already in target/criterion")
    p.add_argument("--criterion-arg", action="append", default=[], metavar="ARG",
                   help="extra argument for the criterion command line (repeatable), e.g. --criterion-arg=--quick")
    a = p.parse_args()
    if a.n < 1 or a.threads < 1 or a.steps < 1 or a.warmup < 0:
        p.error("--n, --threads and --steps must be positive, --warmup non-negative")
    if not a.diffusers_only and a.n not in ITO_SIZES:
        p.error(f"benches/solvers.rs measures N in {ITO_SIZES} only; use one of them or --diffusers-only")

    print(f"$ {shlex.join([os.path.relpath(sys.executable, ROOT), *sys.argv])}")
    print()
    print_machine(a.threads)
    print_versions(with_torch=not a.ito_only, with_rust=not a.diffusers_only)

    diff = None
    if not a.ito_only:
        import torch

        torch.set_num_threads(a.threads)
        print(f"torch.get_num_threads() = {torch.get_num_threads()}")
        print()
        diff = bench_diffusers(a.n, a.steps, a.warmup, count=not a.no_count)
    ito = None
    if not a.diffusers_only:
        ito = bench_ito(a.n, a.threads, run_cargo=not a.no_cargo, extra=a.criterion_arg)
    print_table(a.n, diff, ito)


if __name__ == "__main__":
    main()
