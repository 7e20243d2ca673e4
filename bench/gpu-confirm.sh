#!/bin/bash
# The scan kernels' new tuning against the old on a GPU machine, in one sitting (the device tool,
# .gpu-bin/ from bench/gpu-prepare.sh carried; timeout_s 300): the model tests on wgpu under the
# new defaults, then `bench --device wgpu` under the new defaults, the old ones
# (BURN_RNN_GPU_TUNE=rows=4,units=256,unroll=4) and the new again, then T = 10,000 under the
# new, then PyTorch (cuDNN). Log: $OUT/confirm.txt; JSON: $OUT/confirm.tar.
source "$(dirname "$0")/gpu-common.sh"
gpu_start confirm
cells=(--cell elman lstm gru)

step "model tests on wgpu, new defaults"
timeout 100 /tmp/gpu-bin/model --test-threads 1 2>&1 | grep -E '^test |test result|panicked'

settings=(new old new)
for n in "${!settings[@]}"; do
  tune=$([ "${settings[$n]}" = old ] && echo "rows=4,units=256,unroll=4")
  step "bench, ${settings[$n]} tuning (BURN_RNN_GPU_TUNE='$tune')"
  BURN_RNN_GPU_TUNE="$tune" timeout 35 /tmp/gpu-bin/bench --device wgpu "${cells[@]}" \
    --workload healthcare medium large --skip-burn-nn --json "$results/${n}_${settings[$n]}.json"
  keep
done

step "T = 10,000, new tuning; then PyTorch"
timeout 30 /tmp/gpu-bin/bench --device wgpu "${cells[@]}" --workload long --steps 10000 \
  --skip-burn-nn --repeats 3 --warmup 1 --json "$results/long_new.json"
keep
timeout 25 python3 .gpu-bin/pytorch_bench.py --device cuda "${cells[@]}" --json "$results/torch_cuda.json"
keep
gpu_end
