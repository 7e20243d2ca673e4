"""GFLOP/s ranges over rounds (lowest–highest) and the best-against-best ratio, per cell, as
BENCHMARKS.md's tables give them, from a directory of `bench/rounds.sh` (or `gpu-cpu.sh`) JSON:
burn-rnn's `ours_*.json`, PyTorch's `torch*.json` and, when there, an earlier build's
`before_*.json` (its inference range as a last column). One-thread files are left out.
With `--bf16` (a directory of `bench/bf16.sh`): bf16 inference against PyTorch's bf16
inference, with both sides' f32 inference and how far each side's predictions moved from
its f32 ones. Standard library only.

    python3 bench/ranges.py bench/results/2026-11-30-cpu-deferred
    python3 bench/ranges.py --bf16 bench/results/2026-11-30-cpu-bf16
"""

import collections
import glob
import json
import sys

CELLS = {"elman": "Elman", "lstm": "LSTM", "gru": "GRU"}
WORKLOADS = ["healthcare", "medium", "large"]


def files(directory, prefix):
    return [f for f in glob.glob(f"{directory}/{prefix}*.json") if "1thread" not in f]


def ours(directory, prefix, variant=None):
    """{(workload, cell, mode): [GFLOP/s, ...]} of burn-rnn's rows: the plain cells, or those
    of `variant` (`burn-rnn lstm bf16`)."""
    found = collections.defaultdict(list)
    for path in files(directory, prefix + "_"):
        for row in json.load(open(path)):
            words = row["implementation"].split()
            if words[0] != "burn-rnn" or words[2:] != ([variant] if variant else []):
                continue
            cell = words[1].split("-")[0]
            mode = "train" if row["mode"] == "train" else "infer"
            found[(row["workload"], cell, mode)].append(row["gflops"])
            if "max_difference_from_f32" in row:
                found[(row["workload"], cell, "difference")].append(row["max_difference_from_f32"])
    return found


def pytorch(directory, variant=None):
    """As `ours`, for PyTorch's rows (a bf16 row has inference figures only)."""
    found = collections.defaultdict(list)
    for path in files(directory, "torch"):
        for row in json.load(open(path)):
            words = row["implementation"].split()
            if words[2:] != ([variant] if variant else []):
                continue
            for mode in ("train", "infer"):
                if f"{mode}_gflops" in row:
                    found[(row["workload"], words[1], mode)].append(row[f"{mode}_gflops"])
            if "max_difference_from_f32" in row:
                found[(row["workload"], words[1], "difference")].append(row["max_difference_from_f32"])
    return found


def spread(values):
    return f"{min(values):.1f}–{max(values):.1f}"


def bf16_table(directory):
    """bf16 inference on both sides, with their f32 inference and accuracy."""
    mine, mine16 = ours(directory, "ours"), ours(directory, "ours", "bf16")
    theirs, theirs16 = pytorch(directory), pytorch(directory, "bf16")
    print("| workload | cell | burn-rnn f32 | burn-rnn bf16 | PyTorch f32 | PyTorch bf16 | bf16 ratio "
          "| largest Δ from f32: burn-rnn | PyTorch |")
    print("|---" * 9 + "|")
    for workload in WORKLOADS:
        for cell, name in CELLS.items():
            key = (workload, cell, "infer")
            if key not in mine16:
                continue
            ratio = max(mine16[key]) / max(theirs16[key])
            difference = (workload, cell, "difference")
            print(f"| {workload} | {name} | {spread(mine[key])} | {spread(mine16[key])} "
                  f"| {spread(theirs[key])} | {spread(theirs16[key])} | {ratio:.2f}× "
                  f"| {max(mine16[difference]):.1e} | {max(theirs16[difference]):.1e} |")


def main():
    if sys.argv[1] == "--bf16":
        return bf16_table(sys.argv[2])
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
