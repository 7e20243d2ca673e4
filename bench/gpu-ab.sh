#!/bin/bash
# Two builds of the bench on a GPU machine in one sitting (the device tool, .gpu-bin/ from
# bench/gpu-prepare.sh carried, plus .gpu-bin/bench_old.xz: an earlier build's bench, stripped
# and compressed the same way; timeout_s 200): the model tests of this build on wgpu, then
# `bench --device wgpu` of this build and the earlier one, interleaved twice. Log: $OUT/ab.txt;
# JSON: $OUT/ab.tar.
source "$(dirname "$0")/gpu-common.sh"
gpu_start ab
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
gpu_end
