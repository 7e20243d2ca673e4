#!/bin/bash
# Two builds of the bench on a GPU machine in one sitting (the device tool, .gpu-bin/ from
# bench/gpu-prepare.sh carried, plus .gpu-bin/bench_old.xz: an earlier build's bench, stripped
# and compressed the same way; timeout_s 200): the model tests of this build on wgpu, then
# `bench --device wgpu` of this build and the earlier one, interleaved twice. Log: $OUT/ab.txt;
# JSON: $OUT/ab.tar.
set -uo pipefail
out=${OUT:-/tmp/gpu-out}
results=/tmp/gpu-ab
mkdir -p "$out" "$results" /tmp/gpu-bin
exec > >(tee -a "$out/ab.txt") 2>&1
begin=$SECONDS
step() { echo; echo "== $* (at $((SECONDS - begin)) s)"; }
keep() { tar -cf "$out/ab.tar" -C "$results" .; }

step "machine"
for f in .gpu-bin/debs/*.deb; do dpkg -x "$f" /; done
ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
for f in bench bench_old model; do
  xz -dc ".gpu-bin/$f.xz" > "/tmp/gpu-bin/$f" && chmod +x "/tmp/gpu-bin/$f"
done
export BURN_RNN_FIXTURES="$PWD/crates/model/tests/fixtures/pytorch" BURN_RNN_REQUIRE_WGPU=1

step "model tests on wgpu, this build"
timeout 90 /tmp/gpu-bin/model --test-threads 1 2>&1 | grep -E '^test |test result|panicked'

for round in 1 2; do
  for build in bench bench_old; do
    step "round $round: $build"
    timeout 25 "/tmp/gpu-bin/$build" --device wgpu --cell elman lstm gru \
      --workload healthcare medium large long --skip-burn-nn --repeats 3 --warmup 1 \
      --json "$results/${build}_$round.json" | grep -v '^device\|^workload\|^wrote'
    keep
  done
done
step "done"
sleep 1 # lets tee write the last lines
