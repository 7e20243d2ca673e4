#!/bin/bash
# The scan kernels' tuning on a GPU machine (the device tool, .gpu-bin/ from bench/gpu-prepare.sh
# carried): `bench --device wgpu` on medium, large and long (T = 1,000) under each
# BURN_RNN_GPU_TUNE setting below (crates/model/src/drivers/gpu/plan.rs: sequences per cube,
# units per cube, terms per unrolled product step), then, pinned to two of the host's cores, the
# CPU harnesses side by side (flex against PyTorch, 2 threads). Log: $OUT/tune.txt; JSON:
# $OUT/tune.tar (tune_<n>.json in the order of `settings`, cpu_*.json). Run with timeout_s 480.
source "$(dirname "$0")/gpu-common.sh"
gpu_start tune
grep -o -w -E 'avx512f|avx512vl|avx512_bf16|amx_tile' /proc/cpuinfo | sort -u | tr '\n' ' '; echo

settings=("" "unroll=8" "unroll=16" "rows=1" "rows=2" "rows=8" "units=1024" "units=1024,rows=2,unroll=8")
for n in "${!settings[@]}"; do
  # Each setting takes ~15 s on an H200; the CPU part below needs ~150 s of the run's 480.
  [ $((SECONDS - begin)) -gt 300 ] && { echo "out of time: settings from $n on skipped"; break; }
  step "BURN_RNN_GPU_TUNE='${settings[$n]}'"
  BURN_RNN_GPU_TUNE="${settings[$n]}" timeout 40 /tmp/gpu-bin/bench --device wgpu \
    --cell elman lstm gru --workload medium large --skip-burn-nn --repeats 3 --warmup 1 \
    --json "$results/tune_${n}.json" | grep -v '^device\|^workload\|^wrote'
  BURN_RNN_GPU_TUNE="${settings[$n]}" timeout 25 /tmp/gpu-bin/bench --device wgpu \
    --cell elman lstm gru --workload long --steps 1000 --skip-burn-nn --repeats 3 --warmup 1 \
    --json "$results/tune_${n}_long.json" | grep -v '^device\|^workload\|^wrote'
  keep
done

step "the host's CPU, two cores: burn-rnn on flex, then PyTorch, 2 threads"
cells=(--cell elman lstm gru)
pin=$(command -v taskset >/dev/null && echo "taskset -c 0,1")
[ -n "$pin" ] || echo "no taskset: the CPU figures use every core"
timeout 100 $pin /tmp/gpu-bin/bench --device flex "${cells[@]}" --workload medium large \
  --skip-burn-nn --json "$results/cpu_ours.json"
keep
timeout 80 $pin python3 .gpu-bin/pytorch_bench.py --threads 2 "${cells[@]}" \
  --workload medium large --json "$results/cpu_torch.json"
keep
timeout 25 $pin /tmp/gpu-bin/bench --device flex "${cells[@]}" --workload healthcare \
  --skip-burn-nn --repeats 30 --warmup 5 --json "$results/cpu_ours_hc.json"
timeout 25 $pin python3 .gpu-bin/pytorch_bench.py --threads 2 "${cells[@]}" \
  --workload healthcare --repeats 30 --warmup 5 --json "$results/cpu_torch_hc.json"
keep
gpu_end
