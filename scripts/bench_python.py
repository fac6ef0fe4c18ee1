"""Side-by-side timings for the Python package, in one process: each ito.diffusers drop-in's
``step()`` against stock diffusers' ``step()`` (same configuration, same tensors, interpreter
overhead included), and ``ito.randn_like`` against ``torch.randn`` per thread.

Run from the repository root in the environment .ci/run builds (torch, diffusers, ito):

    RAYON_NUM_THREADS=2 target/fixtures-venv/bin/python scripts/bench_python.py

Threads: torch gets ``torch.set_num_threads(T)`` and ito ``RAYON_NUM_THREADS`` (set it to T
before the run); the randn lines use one thread each (``--threads 1`` semantics for both).
Each figure is the median of ``--repeats`` timings of a loop long enough to take ~0.2 s.
"""

import argparse
import os
import statistics
import time

import torch
import diffusers

import ito
import ito.diffusers


def timeit(fn, repeats):
    fn()
    n, t = 1, 0.0
    while t < 0.2:
        n *= 2
        start = time.perf_counter()
        for _ in range(n):
            fn()
        t = time.perf_counter() - start
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - start) / n)
    return statistics.median(samples)


def bench_step(name, cfg, n, repeats):
    """Seconds per step in the steady state (steps of a 200-step schedule) for stock and ito."""
    out = {}
    for label, cls in [("diffusers", getattr(diffusers, name)), ("ito", getattr(ito.diffusers, name))]:
        s = cls(**cfg)
        s.set_timesteps(200)
        x0 = torch.randn(4, n // 4, generator=torch.Generator().manual_seed(0))
        x = x0.clone()
        eps = torch.randn(4, n // 4, generator=torch.Generator().manual_seed(1)) * 0.1
        for t in s.timesteps[:5]:
            x = s.step(eps, t, x).prev_sample

        def one():
            nonlocal x
            if s.step_index >= len(s.timesteps) - 2:
                # the end of the schedule: start again (once per 200 steps, in both arms)
                s.set_timesteps(200)
                x = x0.clone()
            t = s.timesteps[s.step_index or 0]
            x = s.step(eps, t, x).prev_sample

        out[label] = timeit(one, repeats)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=int(os.environ.get("RAYON_NUM_THREADS", "2")))
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    base = dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
    cases = [
        ("DPMSolverMultistepScheduler", "DPM-Solver++(2M)", dict(base, solver_order=2)),
        ("UniPCMultistepScheduler", "UniPC-2", dict(base, solver_order=2)),
        ("DPMSolverMultistepScheduler", "SDE-DPM-Solver++(2M)",
         dict(base, solver_order=2, algorithm_type="sde-dpmsolver++")),
    ]
    print(f"# {args.threads} threads (torch.set_num_threads, RAYON_NUM_THREADS={os.environ.get('RAYON_NUM_THREADS')}), "
          f"torch {torch.__version__}, diffusers {diffusers.__version__}, median of {args.repeats}")
    print("| step | N | diffusers | ito | speed-up |")
    print("| --- | --- | --- | --- | --- |")
    for exp in (16, 20, 24):
        n = 1 << exp
        for name, label, cfg in cases:
            r = bench_step(name, cfg, n, args.repeats)
            print(f"| {label} | 2^{exp} | {r['diffusers'] * 1e3:.3f} ms | {r['ito'] * 1e3:.3f} ms | "
                  f"{r['diffusers'] / r['ito']:.1f}x |")
    # Normals per thread.
    torch.set_num_threads(1)
    n = 1 << 22
    y = torch.empty(n)
    t_torch = timeit(lambda: torch.randn(n, out=y), args.repeats)
    t_ito = timeit(lambda: ito.fill_normal(y, seed=1), args.repeats)
    print(f"\n| normals, one thread, N = 2^22 | torch.randn | ito.fill_normal | ratio |\n| --- | --- | --- | --- |")
    print(f"| float32 | {n / t_torch / 1e9:.2f} G/s | {n / t_ito / 1e9:.2f} G/s | {t_torch / t_ito:.1f}x |")
    print("(ito's line runs on RAYON_NUM_THREADS threads: set it to 1 for the per-thread figure)")


if __name__ == "__main__":
    main()
