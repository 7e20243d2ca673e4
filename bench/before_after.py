#!/usr/bin/env python3
"""Before/after table of two sets of burn-rnn bench JSON files taken in one sitting
(bench/rounds.sh with BEFORE=...): best sequences per second of each, and their ratio.

    python3 bench/before_after.py --before DIR/before*.json --after DIR/ours*.json
"""
import argparse
import json
from collections import defaultdict


def best(paths):
    """Best sequences/s per (workload, implementation, mode), and every figure."""
    figures = defaultdict(list)
    for path in paths:
        with open(path) as f:
            for m in json.load(f):
                if m["implementation"].startswith("burn-rnn"):
                    key = (m["workload"], m["implementation"], m["mode"])
                    figures[key].append(m["sequences_per_second"])
    return figures


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", nargs="+", required=True)
    parser.add_argument("--after", nargs="+", required=True)
    args = parser.parse_args()
    before, after = best(args.before), best(args.after)
    print("| workload | cell | mode | before (best) | after (best) | after / before |")
    print("|---|---|---|---|---|---|")
    for key in sorted(after, key=lambda k: (k[0] != "healthcare", k[0], k[2], k[1])):
        if key not in before:
            continue
        b, a = max(before[key]), max(after[key])
        workload, implementation, mode = key
        cell = implementation.removeprefix("burn-rnn ")
        print(f"| {workload} | {cell} | {mode} | {b:,.0f} | {a:,.0f} | {a / b:.2f} |")


if __name__ == "__main__":
    main()
