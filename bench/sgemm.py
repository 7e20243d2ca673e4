"""PyTorch's f32 matrix product (SGEMM) rate on the CPU: the practical peak that BENCHMARKS.md
compares the recurrences' GFLOP/s with. Best of 5 timings of 5 products, after 3 warm-ups.
    python3 bench/sgemm.py [--threads 2] [--size 2048]"""
import argparse
import time

import torch

parser = argparse.ArgumentParser()
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--size", type=int, default=2048)
args = parser.parse_args()
torch.set_num_threads(args.threads)
n = args.size
a, b = torch.randn(n, n), torch.randn(n, n)
for _ in range(3):
    a @ b
best = 0.0
for _ in range(5):
    start = time.perf_counter()
    for _ in range(5):
        a @ b
    seconds = (time.perf_counter() - start) / 5
    best = max(best, 2 * n**3 / seconds / 1e9)
print(f"SGEMM {n}x{n}, {args.threads} threads, torch {torch.__version__}: {best:.1f} GFLOP/s")
