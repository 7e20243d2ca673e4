"""Side-by-side tables (Markdown) from the JSON files of `examples/bench.rs` and `pytorch_bench.py`.

Each figure is the best over the files given for that implementation (several rounds, and for
PyTorch several configurations, e.g. with and without THP_MEM_ALLOC_ENABLE=1); the ratio column
compares burn-rnn with the best PyTorch figure. Standard library only.

    python3 bench/compare.py --ours target/ours_*.json --pytorch target/torch_*.json
"""

import argparse
import json

CELLS = {"elman": "Elman", "lstm": "LSTM", "gru": "GRU"}


def load_ours(paths):
    """{(workload, cell or 'burn-nn'): {mode: (seq/s, GFLOP/s)}}, best over the files."""
    best = {}
    for path in paths:
        for row in json.load(open(path)):
            impl = row["implementation"]
            if impl.startswith("burn-rnn "):
                cell = impl.split()[1].split("-")[0]
            else:
                cell = "burn-nn"
            key = (row["workload"], cell)
            value = (row["sequences_per_second"], row["gflops"])
            mode = "train" if row["mode"] == "train" else "infer"
            slot = best.setdefault(key, {})
            if mode not in slot or value[0] > slot[mode][0]:
                slot[mode] = value
    return best


def load_pytorch(paths):
    best = {}
    for path in paths:
        for row in json.load(open(path)):
            key = (row["workload"], row["implementation"].split()[1])
            slot = best.setdefault(key, {})
            for mode in ("train", "infer"):
                value = (row[f"{mode}_seq_per_s"], row[f"{mode}_gflops"])
                if mode not in slot or value[0] > slot[mode][0]:
                    slot[mode] = value
    return best


def cell_text(value):
    return f"{value[0]:,.0f} ({value[1]:.1f})" if value else "—"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ours", nargs="+", required=True)
    parser.add_argument("--pytorch", nargs="+", required=True)
    args = parser.parse_args()
    ours, torch = load_ours(args.ours), load_pytorch(args.pytorch)
    workloads = sorted({w for w, _ in ours}, key=["healthcare", "medium", "large"].index)
    for mode, title in (("train", "Training"), ("infer", "Inference")):
        print(f"{title}, sequences per second (GFLOP/s):\n")
        print("| workload | cell | burn-rnn | PyTorch | burn-rnn / PyTorch | Burn `nn::Rnn` |")
        print("|---|---|---|---|---|---|")
        for workload in workloads:
            for cell, name in CELLS.items():
                mine = ours.get((workload, cell), {}).get(mode)
                theirs = torch.get((workload, cell), {}).get(mode)
                if not mine:
                    continue
                ratio = f"**{mine[0] / theirs[0]:.2f}×**" if theirs else "—"
                burn_nn = ours.get((workload, "burn-nn"), {}).get(mode) if cell == "elman" else None
                print(
                    f"| {workload} | {name} | {cell_text(mine)} | {cell_text(theirs)} | {ratio} "
                    f"| {cell_text(burn_nn)} |"
                )
        print()


if __name__ == "__main__":
    main()
