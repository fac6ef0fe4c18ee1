"""Side-by-side whole SDE solves in one process: ito.sde.sdeint against torchsde 0.2.6's
sdeint (and diffrax's diffeqsolve where diffrax and jax are installed), on the issue's problem:
d = 64 Ornstein–Uhlenbeck, dX = −X dt + 0.5 dW, X₀ = 1, t ∈ [0, 1], 100 fixed steps, the drift
evaluated by torch (by jax for diffrax), each package with its own Brownian source (ito: the
counter; torchsde: its BrownianInterval). The terminal mean and variance are checked against
the closed form in every arm (e⁻¹ and (1 − e⁻²)/8).

Run from the repository root in the environment .ci/run builds (torch; torchsde comes with
k-diffusion's):

    RAYON_NUM_THREADS=2 PYTHONPATH=target/fixtures-venv/kdiffusion-lib:$DIFFRAX_LIB \\
        target/fixtures-venv/bin/python scripts/bench_sde.py

diffrax's arm runs where diffrax imports (e.g. ``pip install --target $DIFFRAX_LIB
diffrax==0.7.2``, which brings jax and jaxlib; not part of CI).

torch gets ``torch.set_num_threads(T)`` with T = RAYON_NUM_THREADS. Each figure is the
median of ``--repeats`` solves.
"""

import argparse
import math
import os
import statistics
import time

import torch
import torchsde

import ito
import ito.sde


class Ou(torch.nn.Module):
    """torchsde's diagonal noise type with a constant g (its "additive" type wants a matrix);
    for Milstein, ito is given g·∂g = 0 (torchsde differentiates g itself)."""

    noise_type = "diagonal"
    sde_type = "ito"

    def __init__(self, method):
        super().__init__()
        self.sde_type = "stratonovich" if method in ("heun", "reversible_heun") else "ito"
        self.half = self.zero = None

    def f(self, t, y):
        return -y

    def g(self, t, y):
        if self.half is None or self.half.shape != y.shape:
            self.half = torch.full_like(y, 0.5)
        return self.half

    def gdg(self, t, y):
        if self.zero is None or self.zero.shape != y.shape:
            self.zero = torch.zeros_like(y)
        return self.zero


def diffrax_arm(method, n):
    """A jitted diffrax solve of the same problem (fresh increments: UnsafeBrownianPath),
    or None where diffrax is not installed."""
    try:
        import diffrax
        import jax
        import jax.numpy as jnp
        import lineax
    except ImportError:
        return None
    solver = {"euler": diffrax.Euler(), "milstein": diffrax.ItoMilstein(),
              "heun": diffrax.Heun(), "reversible_heun": diffrax.ReversibleHeun()}[method]
    drift = diffrax.ODETerm(lambda t, y, args: -y)

    @jax.jit
    def solve(key):
        bm = diffrax.UnsafeBrownianPath(shape=(n,), key=key)
        noise = diffrax.ControlTerm(
            lambda t, y, args: lineax.DiagonalLinearOperator(0.5 * jnp.ones_like(y)), bm)
        sol = diffrax.diffeqsolve(diffrax.MultiTerm(drift, noise), solver, 0.0, 1.0, dt0=0.01,
                                  y0=jnp.ones(n, jnp.float32), saveat=diffrax.SaveAt(t1=True),
                                  max_steps=128, adjoint=diffrax.ForwardMode())
        return sol.ys[-1]

    keys = iter(range(1 << 30))

    def run():
        y = solve(jax.random.key(next(keys))).block_until_ready()
        return torch.from_numpy(__import__("numpy").asarray(y))

    return run


def check(y, label):
    y = y.to(torch.float64)
    mean, var = y.mean().item(), y.var().item()
    want_mean, want_var = math.exp(-1), (1 - math.exp(-2)) / 8
    ok = abs(mean - want_mean) < 0.01 and abs(var - want_var) < 0.005
    if not ok:
        raise SystemExit(f"{label}: terminal mean {mean:.4f} (want {want_mean:.4f}), "
                         f"var {var:.4f} (want {want_var:.4f})")


def timed(fn, repeats):
    fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        y = fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sizes", default="16,20")
    args = ap.parse_args()
    threads = int(os.environ.get("RAYON_NUM_THREADS", "2"))
    torch.set_num_threads(threads)
    ts = torch.tensor([0.0, 1.0])
    print(f"whole solve, 100 steps, d = 64, {threads} threads; median of {args.repeats}")
    print("| method | elements | torchsde | diffrax (jit) | ito | torchsde ÷ ito | diffrax ÷ ito |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for log2 in [int(v) for v in args.sizes.split(",")]:
        n = 1 << log2
        y0 = torch.ones(n // 64, 64)
        for method in ["euler", "milstein", "heun", "reversible_heun"]:
            sde = Ou(method)
            t_ito, y = timed(lambda: ito.sde.sdeint(sde, y0, ts, method=method, dt=0.01, seed=1)[-1],
                             args.repeats)
            check(y, f"ito {method}")
            t_ts, y = timed(lambda: torchsde.sdeint(sde, y0, ts, method=method, dt=0.01)[-1],
                            args.repeats)
            check(y, f"torchsde {method}")
            dx = diffrax_arm(method, n)
            t_dx = float("nan")
            if dx is not None:
                try:
                    t_dx, y = timed(dx, args.repeats)
                    check(y, f"diffrax {method}")
                except Exception as e:  # noqa: BLE001  (reported, the other arms go on)
                    print(f"diffrax {method} at 2^{log2}: {type(e).__name__}: {str(e)[:120]}")
            print(f"| {method} | 2^{log2} | {t_ts * 1e3:.1f} ms | {t_dx * 1e3:.1f} ms | "
                  f"{t_ito * 1e3:.1f} ms | {t_ts / t_ito:.1f}× | {t_dx / t_ito:.1f}× |")


if __name__ == "__main__":
    main()
