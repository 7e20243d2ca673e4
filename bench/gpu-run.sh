#!/bin/bash
# One run on a GPU machine (an NVIDIA H200 through the device tool), from the repository root
# with .gpu-bin/ from bench/gpu-prepare.sh carried along (`carry: [".gpu-bin"]`): the model
# tests on wgpu (Vulkan on the GPU: the PyTorch fixtures and the kernels against the tensor
# scan), then `bench` on every workload and cell with the kernels and with the tensor scan, with
# kernel counts, then PyTorch (cuDNN) on the same workloads. Everything lands in $OUT.
set -uo pipefail
out=${OUT:-/tmp/gpu-out}
mkdir -p "$out" /tmp/gpu-bin
for f in .gpu-bin/debs/*.deb; do dpkg -x "$f" /; done
ldconfig
if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"
for f in .gpu-bin/*.xz; do
  name=$(basename "$f" .xz)
  xz -dc "$f" > "/tmp/gpu-bin/$name" && chmod +x "/tmp/gpu-bin/$name"
done
# The fixtures are read from the source tree the tests were built in: point them here.
export BURN_RNN_FIXTURES="$PWD/crates/model/tests/fixtures/pytorch" BURN_RNN_REQUIRE_WGPU=1
timeout 240 /tmp/gpu-bin/model --test-threads 1 2>&1 | tee "$out/tests.txt" | tail -20
cells=(--cell elman lstm gru)
timeout 200 /tmp/gpu-bin/bench --device wgpu "${cells[@]}" --gpu-paths --dispatches --skip-burn-nn \
  --json "$out/ours_wgpu.json" 2>&1 | tee "$out/bench.txt"
timeout 120 python3 .gpu-bin/pytorch_bench.py --device cuda "${cells[@]}" \
  --json "$out/torch_cuda.json" 2>&1 | tee -a "$out/bench.txt"
