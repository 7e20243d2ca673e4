"""PyTorch peer of `cargo run --release --example bench_streaming`: the same shapes, each
sequence fed one step at a time with the state carried (`torch.inference_mode`), each step's
output read before the next; median over --repeats sequences, in microseconds per step.
With `--table DIR` (standard library only): both sides' results in a directory of
`bench/streaming.sh`, as ranges over its rounds and the best-against-best ratio.

    /tmp/t/bin/python bench/pytorch_streaming.py --threads 2 [--cell lstm] [--json out.json]
    python3 bench/pytorch_streaming.py --table target/streaming
"""

import argparse
import collections
import glob
import json
import statistics
import time

SHAPES = [  # name, B, T, D, H, L: the benchmark workloads
    ("healthcare", 32, 24, 3, 32, 1),
    ("medium", 64, 64, 8, 128, 2),
    ("large", 256, 128, 32, 512, 1),
]
NAMES = {"elman": "elman-tanh", "lstm": "lstm", "gru": "gru"}


def measure(args):
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    modules = {"elman": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of {args.repeats} sequences")
    results = []
    for workload, batch, steps, d, h, layers in SHAPES:
        for cell in args.cell:
            rnn = modules[cell](d, h, num_layers=layers)
            for b in (1, batch):
                x = torch.randn(steps, 1, b, d)

                def sequence():
                    state = None
                    with torch.inference_mode():
                        for t in range(steps):
                            out, state = rnn(x[t], state)
                            out.numpy()

                sequence()
                times = []
                for _ in range(args.repeats):
                    start = time.perf_counter()
                    sequence()
                    times.append(time.perf_counter() - start)
                row = {
                    "workload": workload,
                    "implementation": f"pytorch {NAMES[cell]}",
                    "batch": b,
                    "hidden": h,
                    "layers": layers,
                    "microseconds_per_step": statistics.median(times) / steps * 1e6,
                }
                print(f"{workload:<11} {row['implementation']:<22} {b:>6} {row['microseconds_per_step']:>13.1f}")
                results.append(row)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


def table(directory):
    """Per shape and cell: both sides' ranges over the rounds and the best-against-best ratio
    (PyTorch's time over ours: above 1, ours is faster)."""
    found = collections.defaultdict(list)
    for path in glob.glob(f"{directory}/*.json"):
        for row in json.load(open(path)):
            side, cell = row["implementation"].split()[:2]
            found[(row["workload"], cell, row["batch"], side)].append(row["microseconds_per_step"])
    print("| workload | cell | sequences | burn-rnn µs/step | PyTorch µs/step | ratio |")
    print("|---" * 6 + "|")
    for workload, batch, *_ in SHAPES:
        for cell in NAMES.values():
            for b in (1, batch):
                ours, theirs = found.get((workload, cell, b, "burn-rnn")), found.get((workload, cell, b, "pytorch"))
                if not ours or not theirs:
                    continue
                ratio = min(theirs) / min(ours)
                print(f"| {workload} | {cell} | {b} | {min(ours):.1f}–{max(ours):.1f} "
                      f"| {min(theirs):.1f}–{max(theirs):.1f} | {ratio:.2f}× |")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cell", nargs="+", default=list(NAMES), choices=list(NAMES))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json")
    parser.add_argument("--table", metavar="DIR", help="print the comparison of a streaming.sh directory")
    args = parser.parse_args()
    if args.table:
        return table(args.table)
    measure(args)


if __name__ == "__main__":
    main()
