"""GFLOP/s ranges over rounds (lowest–highest) and the best-against-best ratio, per cell, as
BENCHMARKS.md's tables give them, from a directory of `bench/rounds.sh` (or `gpu-cpu.sh`) JSON:
burn-rnn's `ours_*.json`, PyTorch's `torch*.json` and, when there, an earlier build's
`before_*.json` (its inference range as a last column). One-thread files are left out.
Standard library only.

    python3 bench/ranges.py bench/results/2026-11-30-cpu-deferred
"""

import collections
import glob
import json
import sys

CELLS = {"elman": "Elman", "lstm": "LSTM", "gru": "GRU"}
WORKLOADS = ["healthcare", "medium", "large"]


def files(directory, prefix):
    return [f for f in glob.glob(f"{directory}/{prefix}*.json") if "1thread" not in f]


def ours(directory, prefix):
    """{(workload, cell, mode): [GFLOP/s, ...]} of burn-rnn's rows."""
    found = collections.defaultdict(list)
    for path in files(directory, prefix + "_"):
        for row in json.load(open(path)):
            if not row["implementation"].startswith("burn-rnn"):
                continue
            cell = row["implementation"].split()[1].split("-")[0]
            mode = "train" if row["mode"] == "train" else "infer"
            found[(row["workload"], cell, mode)].append(row["gflops"])
    return found


def pytorch(directory):
    found = collections.defaultdict(list)
    for path in files(directory, "torch"):
        for row in json.load(open(path)):
            cell = row["implementation"].split()[1]
            for mode in ("train", "infer"):
                found[(row["workload"], cell, mode)].append(row[f"{mode}_gflops"])
    return found


def main():
    directory = sys.argv[1]
    mine, before, theirs = ours(directory, "ours"), ours(directory, "before"), pytorch(directory)
    header = "| workload | cell | training: burn-rnn | PyTorch | ratio | inference: burn-rnn | PyTorch | ratio |"
    print(header + (" inference before |" if before else ""))
    print("|---" * (8 + bool(before)) + "|")
    reached = 0
    for workload in WORKLOADS:
        for cell, name in CELLS.items():
            row = [workload, name]
            for mode in ("train", "infer"):
                key = (workload, cell, mode)
                ratio = max(mine[key]) / max(theirs[key])
                reached += ratio >= 1.2
                text = f"{ratio:.2f}×"
                row += [
                    f"{min(mine[key]):.1f}–{max(mine[key]):.1f}",
                    f"{min(theirs[key]):.1f}–{max(theirs[key]):.1f}",
                    f"**{text}**" if ratio >= 1.2 else text,
                ]
            if before:
                key = (workload, cell, "infer")
                row.append(f"{min(before[key]):.1f}–{max(before[key]):.1f}")
            print("| " + " | ".join(row) + " |")
    print(f"\n{reached} of 18 cells at 1.2× or more.")


if __name__ == "__main__":
    main()
