"""Times torchsde's Brownian paths on this machine, for comparison with ito's brownian_tree
bench (`cargo bench --bench brownian_tree`).

- BrownianTree(t0=0, t1=1, tol=1e-6 ~ depth 20, shape (N,)): one increment W(s, t) of a
  fresh non-dyadic query per call (torchsde caches nothing across distinct queries of a tree).
- BrownianInterval (the Kidger et al. 2021 structure): a sequential sweep of a 20- and a
  100-step grid, time per increment (fresh interval per sweep).

Run: target/fixtures-venv/bin/python scripts/bench_brownian_peers.py [--n 65536] [--threads 2]
(after `bash scripts/make_fixtures.sh` has made the venv; plus `pip install torchsde==0.2.6`).
"""
import argparse
import statistics
import time

import torch
import torchsde


def timed(f, repeat):
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        out.append(time.perf_counter() - t)
    return statistics.median(out), min(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1 << 16)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    n = args.n
    print(f"torch {torch.__version__}, torchsde {torchsde.__version__}, N = {n}, threads = {args.threads}")
    w0 = torch.zeros(n, dtype=torch.float32)
    tree = torchsde.BrownianTree(t0=0.0, w0=w0, t1=1.0, tol=1e-6, entropy=1)
    qs = [(0.3141 + 0.001 * k, 0.3782 + 0.001 * k) for k in range(12)]
    it = iter(qs)
    med, mn = timed(lambda: tree(*next(it)), 12)
    print(f"BrownianTree (tol 1e-6) one increment W(s,t): median {med*1e3:.2f} ms, min {mn*1e3:.2f} ms")
    for steps in (20, 100):
        per = []
        for rep in range(3):
            bi = torchsde.BrownianInterval(t0=0.0, t1=1.0, size=(n,), dtype=torch.float32, entropy=rep)
            ts = [k / steps for k in range(steps + 1)]
            t = time.perf_counter()
            for a, b in zip(ts, ts[1:]):
                bi(a, b)
            per.append((time.perf_counter() - t) / steps)
        print(f"BrownianInterval sweep of {steps} steps: median {statistics.median(per)*1e3:.3f} ms per increment, min {min(per)*1e3:.3f}")


if __name__ == "__main__":
    main()
