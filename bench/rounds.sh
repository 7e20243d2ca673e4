#!/bin/bash
# Interleaved rounds of both harnesses, as BENCHMARKS.md reports them: per round, burn-rnn
# (medium+large, then healthcare with more repeats), then PyTorch with its default allocator and
# with THP_MEM_ALLOC_ENABLE=1. Then the tables, best figure per implementation:
#     bench/rounds.sh OUT_DIR [ROUNDS] [PYTHON]
#     python3 bench/compare.py --ours OUT_DIR/ours*.json --pytorch OUT_DIR/torch*.json
# Build first (cargo build --release --example bench); PYTHON needs torch and numpy. With
# BEFORE=path/to/another/bench, each round also runs that binary (an earlier build) right after
# ours, into OUT_DIR/before*.json: a before/after comparison in one sitting.
set -euo pipefail
source "$(dirname "$0")/sitting.sh"
ours=target/release/examples/bench
cells=(--cell elman lstm gru)
big=(--workload medium large)
small=(--workload healthcare --repeats 30 --warmup 5)
for round in $(seq 1 "$rounds"); do
  "$ours" "${cells[@]}" "${big[@]}" --json "$out/ours_$round.json"
  "$ours" "${cells[@]}" "${small[@]}" --json "$out/ours_hc_$round.json"
  if [ -n "${BEFORE:-}" ]; then
    "$BEFORE" "${cells[@]}" "${big[@]}" --json "$out/before_$round.json"
    "$BEFORE" "${cells[@]}" "${small[@]}" --json "$out/before_hc_$round.json"
  fi
  for thp in 0 1; do
    name=$([ "$thp" = 1 ] && echo torchthp || echo torch)
    env $([ "$thp" = 1 ] && echo THP_MEM_ALLOC_ENABLE=1) "$python" bench/pytorch_bench.py --threads 2 \
      "${cells[@]}" "${big[@]}" --json "$out/${name}_$round.json"
    env $([ "$thp" = 1 ] && echo THP_MEM_ALLOC_ENABLE=1) "$python" bench/pytorch_bench.py --threads 2 \
      "${cells[@]}" "${small[@]}" --json "$out/${name}_hc_$round.json"
  done
done
