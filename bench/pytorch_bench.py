"""PyTorch peer of `cargo run --release --example bench`: the same workloads, same protocol.

Training = forward + MSE on the last step's head output + backward + Adam step; inference =
forward under torch.no_grad(). Median of --repeats timed runs after --warmup untimed ones.

    python3 -m venv /tmp/t && /tmp/t/bin/pip install torch
    /tmp/t/bin/python bench/pytorch_bench.py --threads 2 [--device cuda] [--cell elman lstm gru]
"""

import argparse
import copy
import json
import statistics
import time

import torch

WORKLOADS = {  # B, T, D, H, L
    "healthcare": (32, 24, 3, 32, 1),
    "medium": (64, 64, 8, 128, 2),
    "large": (256, 128, 32, 512, 1),
    "long": (16, 1000, 8, 64, 1),  # as `bench --workload long`: not run unless named
}
DEFAULT_WORKLOADS = ["healthcare", "medium", "large"]
GATES = {"elman": 1, "lstm": 4, "gru": 3}


class Regressor(torch.nn.Module):
    def __init__(self, cell, d, h, layers):
        super().__init__()
        cls = {"elman": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
        self.rnn = cls(d, h, num_layers=layers, batch_first=True)
        self.head = torch.nn.Linear(h, 1)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


def median_seconds(fn, warmup, repeats, device):
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def forward_flops(b, t, d, h, layers, gates):
    total = 0.0
    for layer in range(layers):
        d_in = d if layer == 0 else h
        total += 2.0 * b * (d_in + h) * gates * h * t
    return total


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--cell", nargs="+", default=["elman"], choices=list(GATES))
    parser.add_argument("--workload", nargs="+", default=DEFAULT_WORKLOADS, choices=list(WORKLOADS))
    parser.add_argument("--steps", type=int, help="steps per sequence T, in place of each workload's own")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--bf16", action="store_true",
                        help="also time each cell's inference with the model and input in bfloat16")
    parser.add_argument("--json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} threads")
    print(f"{'workload':<11} {'implementation':<22} {'train seq/s':>14} {'GFLOP/s':>10} {'infer seq/s':>14} {'GFLOP/s':>10}")
    results = []
    for name in args.workload:
        b, t, d, h, layers = WORKLOADS[name]
        t = args.steps or t
        for cell in args.cell:
            model = Regressor(cell, d, h, layers).to(args.device)
            x = torch.randn(b, t, d, device=args.device)
            y = torch.randn(b, 1, device=args.device)
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)

            def train_step():
                opt.zero_grad(set_to_none=True)
                loss = torch.nn.functional.mse_loss(model(x), y)
                loss.backward()
                opt.step()

            def infer_step():
                with torch.no_grad():
                    model(x)

            train = median_seconds(train_step, args.warmup, args.repeats, args.device)
            infer = median_seconds(infer_step, args.warmup, args.repeats, args.device)
            flops = forward_flops(b, t, d, h, layers, GATES[cell])
            row = {
                "workload": name,
                "steps": t,
                "implementation": f"pytorch {cell}",
                "train_seq_per_s": b / train,
                "train_gflops": 3 * flops / train / 1e9,
                "infer_seq_per_s": b / infer,
                "infer_gflops": flops / infer / 1e9,
            }
            results.append(row)
            print(
                f"{name:<11} {row['implementation']:<22} {row['train_seq_per_s']:>14.0f} "
                f"{row['train_gflops']:>10.1f} {row['infer_seq_per_s']:>14.0f} {row['infer_gflops']:>10.1f}"
            )
            if args.bf16:
                half, xh = copy.deepcopy(model).to(torch.bfloat16), x.to(torch.bfloat16)

                def infer_bf16():
                    with torch.no_grad():
                        half(xh)

                with torch.no_grad():
                    difference = (half(xh).float() - model(x)).abs().max().item()
                infer = median_seconds(infer_bf16, args.warmup, args.repeats, args.device)
                row = {
                    "workload": name,
                    "steps": t,
                    "implementation": f"pytorch {cell} bf16",
                    "infer_seq_per_s": b / infer,
                    "infer_gflops": flops / infer / 1e9,
                    "max_difference_from_f32": difference,
                }
                results.append(row)
                print(
                    f"{name:<11} {row['implementation']:<22} {'-':>14} {'-':>10} "
                    f"{row['infer_seq_per_s']:>14.0f} {row['infer_gflops']:>10.1f}"
                    f"  (predictions within {difference:.1e} of f32)"
                )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
