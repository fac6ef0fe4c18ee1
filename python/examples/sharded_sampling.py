"""A batch sampled by several processes under torch.distributed (gloo, localhost): each rank
samples its shard of the batch with its global offset into ito's noise, and the gathered batch
equals, bit for bit, the batch one process samples alone — with a stochastic solver
(SDE-DPM-Solver++(2M)), whose noise is what usually makes sharded sampling diverge.

    python python/examples/sharded_sampling.py --world 2

Each rank would run the model on its shard; here the "model" is an analytic denoiser.
"""

import argparse
import os
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import ito

BATCH, SAMPLE = 8, 4 * 16 * 16  # 8 latents of 4×16×16


def denoise(x, sigma):
    """x0 for data N(0.2, 0.5²) at noise level sigma (EDM form)."""
    return ((0.25 * x + sigma * sigma * 0.2) / (0.25 + sigma * sigma)).to(x.dtype)


def sample(n_samples, first_sample):
    """Samples `n_samples` latents starting at global sample `first_sample`."""
    x = torch.zeros(n_samples, SAMPLE)
    s = ito.Sampler.like(x, "sde-dpmpp-2m", prediction="data", schedule="edm", grid="karras",
                         steps=15, seed=2026, offset=first_sample * SAMPLE)
    s.init_noise(x)
    return s.run(x, lambda inp, ev: denoise(inp, ev.sigma / ev.alpha))


def worker(rank, world, init_file, result_file):
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    per_rank = BATCH // world
    shard = sample(per_rank, rank * per_rank)
    parts = [torch.empty_like(shard) for _ in range(world)]
    dist.all_gather(parts, shard)
    if rank == 0:
        gathered = torch.cat(parts)
        alone = sample(BATCH, 0)
        same = torch.equal(gathered.view(torch.int32), alone.view(torch.int32))
        with open(result_file, "w") as f:
            f.write("equal" if same else "different")
    dist.destroy_process_group()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--world", type=int, default=2)
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()
    if BATCH % args.world:
        sys.exit(f"--world must divide the batch of {BATCH}")
    import tempfile

    d = args.dir or tempfile.mkdtemp()
    init_file, result_file = os.path.join(d, "init"), os.path.join(d, "result")
    mp.spawn(worker, args=(args.world, init_file, result_file), nprocs=args.world)
    with open(result_file) as f:
        result = f.read()
    print(f"{args.world} ranks, batch of {BATCH}: gathered shards and one process: {result}")
    sys.exit(0 if result == "equal" else 1)


if __name__ == "__main__":
    main()
