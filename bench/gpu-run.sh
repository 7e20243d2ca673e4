#!/bin/bash
# One run on a GPU machine (an NVIDIA H200 through the device tool), from the repository root
# with .gpu-bin/ from bench/gpu-prepare.sh carried along (`carry: [".gpu-bin"]`): the model
# tests on wgpu (Vulkan on the GPU: the PyTorch fixtures and the kernels against the tensor
# scan), then `bench` on every workload and cell with the kernels and with the tensor scan, with
# kernel counts, then PyTorch (cuDNN) on the same workloads, then both at T = 10,000, then the
# layer-normalised cells, then the healthcare example (its plots come back too). Each step has
# its own time limit (520 s in all), so that a hang loses one step only; the log is
# $OUT/run.txt, the tests' output $OUT/tests.txt, and every JSON $OUT/run.tar.
source "$(dirname "$0")/gpu-common.sh"
gpu_start run
cells=(--cell elman lstm gru)

step "probe: one small bench on wgpu, with the Vulkan loader's messages"
VK_LOADER_DEBUG=error,warn timeout 60 /tmp/gpu-bin/bench --device wgpu --workload healthcare \
  --skip-burn-nn --repeats 1 --warmup 0 > /tmp/probe.txt 2>&1
probe=$?
tail -25 /tmp/probe.txt
if [ $probe -ne 0 ]; then # no GPU to measure: say why, and give the machine back early
  VK_LOADER_DEBUG=all timeout 30 /tmp/gpu-bin/bench --device wgpu --workload healthcare \
    --skip-burn-nn --repeats 1 --warmup 0 2>&1 | grep -v '^$' | tail -60
  exit 1
fi

step "model tests on wgpu"
timeout 130 /tmp/gpu-bin/model --test-threads 1 > "$out/tests.txt" 2>&1
echo "exit $?"
grep -E '^test |test result|panicked|left|right' "$out/tests.txt" | head -60

step "bench: the kernels and the tensor scan on wgpu"
timeout 170 /tmp/gpu-bin/bench --device wgpu "${cells[@]}" --gpu-paths --dispatches --skip-burn-nn \
  --json "$results/ours_wgpu.json"
echo "exit $?"; keep

step "PyTorch on cuda"
timeout 70 python3 .gpu-bin/pytorch_bench.py --device cuda "${cells[@]}" --json "$results/torch_cuda.json"
echo "exit $?"; keep

step "T = 10,000: the kernels on wgpu, then PyTorch on cuda"
timeout 50 /tmp/gpu-bin/bench --device wgpu "${cells[@]}" --workload long --steps 10000 \
  --skip-burn-nn --dispatches --repeats 3 --warmup 1 --json "$results/ours_long.json"
echo "exit $?"; keep
timeout 50 python3 .gpu-bin/pytorch_bench.py --device cuda "${cells[@]}" --workload long \
  --steps 10000 --repeats 3 --warmup 1 --json "$results/torch_long.json"
echo "exit $?"; keep

step "layer norm in the kernels on wgpu"
timeout 50 /tmp/gpu-bin/bench --device wgpu --cell lstm gru --workload healthcare medium \
  --layer-norm --skip-burn-nn --dispatches --json "$results/ours_layer_norm.json"
echo "exit $?"; keep

step "the healthcare example on wgpu, as a user would run it"
timeout 50 /tmp/gpu-bin/healthcare --device wgpu
echo "exit $?"
for plot in loss forecast; do cp "artifacts/healthcare/$plot.png" "$out/healthcare_$plot.png"; done

gpu_end
