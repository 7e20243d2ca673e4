#!/bin/bash
# Interleaved rounds of streamed steps (`Recurrent::step` against PyTorch's modules fed one
# step at a time), then the table:
#     bench/streaming.sh OUT_DIR [ROUNDS] [PYTHON]
# Build first (cargo build --release --example bench_streaming); PYTHON needs torch.
set -euo pipefail
source "$(dirname "$0")/sitting.sh"
for round in $(seq 1 "$rounds"); do
  target/release/examples/bench_streaming --repeats 7 --json "$out/ours_$round.json"
  "$python" bench/pytorch_streaming.py --threads 2 --repeats 7 --json "$out/torch_$round.json"
done
python3 bench/pytorch_streaming.py --table "$out"
