"""Peer figures on the GPU for scripts/gpu-kit.sh: torch.randn normals/s (f32) and torch's
device-to-device copy, at the sizes ito's CUDA benches use. Median of 20 timed runs each."""
import torch

def timed(f, reps=20):
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(reps):
        start.record()
        f()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return sorted(times)[len(times) // 2]

for n in [1 << 20, 1 << 24, 1 << 26]:
    y = torch.empty(n, device="cuda", dtype=torch.float32)
    x = torch.empty(n, device="cuda", dtype=torch.float32)
    t = timed(lambda: torch.randn(n, device="cuda", out=y))
    c = timed(lambda: y.copy_(x))
    print(f"n={n}: torch.randn {n / t / 1e9:.2f} G normals/s ({4 * n / t / 1e9:.0f} GB/s written); "
          f"copy {8 * n / c / 1e9:.0f} GB/s")
