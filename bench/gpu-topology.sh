#!/bin/bash
# Which two of the GPU machine's host CPUs a two-core figure should pin: the host's topology,
# the FMA peak (`.gpu-bin/fma_peak`: bench/fma_peak.c built with -march=x86-64-v4) on one CPU,
# on CPUs 0 and 1, and on CPU 0 with one outside its core; then LSTM `medium` (burn-rnn and
# PyTorch, 2 threads) pinned both ways. Log: $OUT/topology.txt; JSON: $OUT/topology.tar.
source "$(dirname "$0")/gpu-common.sh"
gpu_start topology
lscpu -e
for c in 0 1; do
  echo "cpu$c siblings: $(cat /sys/devices/system/cpu/cpu$c/topology/thread_siblings_list 2>/dev/null)"
done
# A CPU outside CPU 0's core (its siblings list), the highest-numbered one.
siblings=$(cat /sys/devices/system/cpu/cpu0/topology/thread_siblings_list 2>/dev/null || echo 0)
other=$(lscpu -p=CPU,CORE | grep -v '^#' | awk -F, -v core="$(lscpu -p=CPU,CORE | grep -v '^#' | awk -F, '$1==0{print $2}')" '$2!=core{c=$1} END{print c}')
[ -n "$other" ] || other=1
echo "CPU 0's core: $siblings; another core's CPU: $other"
step "FMA peak"
taskset -c 0 .gpu-bin/fma_peak 1
taskset -c 0,1 .gpu-bin/fma_peak 2
taskset -c "0,$other" .gpu-bin/fma_peak 2
for pin in "0,1" "0,$other"; do
  step "LSTM medium pinned to CPUs $pin"
  timeout 40 taskset -c "$pin" /tmp/gpu-bin/bench --device flex --cell lstm --workload medium \
    --skip-burn-nn --repeats 10 --json "$results/ours_${pin/,/_}.json" | grep -v '^wrote'
  timeout 40 taskset -c "$pin" python3 .gpu-bin/pytorch_bench.py --threads 2 --cell lstm \
    --workload medium --repeats 10 --json "$results/torch_${pin/,/_}.json"
  keep
done
gpu_end
