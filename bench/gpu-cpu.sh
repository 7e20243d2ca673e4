#!/bin/bash
# The GPU machine's host CPU (an Intel Xeon in the sessions so far), two cores pinned, as the
# second CPU of issue #17: burn-rnn on flex (`.gpu-bin/bench`, and `.gpu-bin/bench-before` when
# carried: the same bench built from an earlier commit) interleaved with PyTorch, 2 threads, in
# rounds; then one thread each for LSTM `medium`, and bf16 inference when time is left. Log:
# $OUT/cpu.txt; JSON: $OUT/cpu.tar. Run with timeout_s 560.
source "$(dirname "$0")/gpu-common.sh"
gpu_start cpu
grep -o -w -E 'avx512f|avx512vl|avx512_bf16|amx_tile' /proc/cpuinfo | sort -u | tr '\n' ' '; echo
python3 -c 'import torch; print("PyTorch", torch.__version__)'
pin=$(command -v taskset >/dev/null && echo "taskset -c 0,1")
[ -n "$pin" ] || echo "no taskset: the CPU figures use every core"
cells=(--cell elman lstm gru)
ours() { # name binary
  [ -x "/tmp/gpu-bin/$2" ] || return 0
  timeout 100 $pin "/tmp/gpu-bin/$2" --device flex "${cells[@]}" --workload medium large \
    --skip-burn-nn --json "$results/${1}_r$round.json" | grep -v '^wrote'
  timeout 25 $pin "/tmp/gpu-bin/$2" --device flex "${cells[@]}" --workload healthcare \
    --skip-burn-nn --repeats 30 --warmup 5 --json "$results/${1}_hc_r$round.json" | grep -v '^device\|^workload\|^wrote'
}
torch() {
  timeout 80 $pin python3 .gpu-bin/pytorch_bench.py --threads 2 "${cells[@]}" \
    --workload medium large --json "$results/torch_r$round.json"
  timeout 25 $pin python3 .gpu-bin/pytorch_bench.py --threads 2 "${cells[@]}" \
    --workload healthcare --repeats 30 --warmup 5 --json "$results/torch_hc_r$round.json"
}
for round in 1 2 3; do
  [ $((SECONDS - begin)) -gt 330 ] && { echo "out of time: rounds from $round on skipped"; break; }
  step "round $round: burn-rnn (this commit), PyTorch, burn-rnn (before)"
  ours ours bench; torch; ours before bench-before
  keep
done
step "one thread: LSTM medium"
RAYON_NUM_THREADS=1 timeout 30 taskset -c 0 /tmp/gpu-bin/bench --device flex --cell lstm \
  --workload medium --skip-burn-nn --json "$results/ours_1thread.json" | grep -v '^wrote'
timeout 30 taskset -c 0 python3 .gpu-bin/pytorch_bench.py --threads 1 --cell lstm \
  --workload medium --json "$results/torch_1thread.json"
keep
# bf16 inference on both sides where the CPU has AVX512-BF16 (Sapphire Rapids does), one round,
# for `python3 bench/ranges.py --bf16 bf16/` on the unpacked tar.
if grep -q avx512_bf16 /proc/cpuinfo && [ $((SECONDS - begin)) -lt 400 ]; then
  step "bf16 inference: burn-rnn, PyTorch (bfloat16)"
  mkdir -p "$results/bf16"
  timeout 60 $pin /tmp/gpu-bin/bench --device flex "${cells[@]}" --workload medium large \
    --skip-burn-nn --bf16 --json "$results/bf16/ours_1.json" | grep -v '^wrote'
  timeout 100 $pin python3 .gpu-bin/pytorch_bench.py --threads 2 "${cells[@]}" \
    --workload medium large --bf16 --json "$results/bf16/torch_1.json"
  keep
fi
gpu_end
