#!/bin/bash
# Interleaved rounds of bf16 inference on both sides, as BENCHMARKS.md reports them: per round,
# burn-rnn's bench with --bf16 (each cell in f32 and in bf16), then PyTorch's with --bf16 (the
# model and input in bfloat16). Then the table, best figure per implementation:
#     bench/bf16.sh OUT_DIR [ROUNDS] [PYTHON]
#     python3 bench/ranges.py --bf16 OUT_DIR
# Build first (cargo build --release --example bench); PYTHON needs torch. Needs a CPU with
# AVX512-BF16 (`grep avx512_bf16 /proc/cpuinfo`).
set -euo pipefail
source "$(dirname "$0")/sitting.sh"
cells=(--cell elman lstm gru)
for round in $(seq 1 "$rounds"); do
  target/release/examples/bench "${cells[@]}" --workload medium large --bf16 --skip-burn-nn \
    --json "$out/ours_$round.json"
  "$python" bench/pytorch_bench.py --threads 2 "${cells[@]}" --workload medium large --bf16 \
    --json "$out/torch_$round.json"
done
