# Sourced by the bench/gpu-*.sh scripts, on the GPU machine from the repository root with
# .gpu-bin/ (bench/gpu-prepare.sh) carried: `gpu_start NAME` sends everything printed to
# $OUT/NAME.txt too, keeps JSON in $results (`keep` packs it into $OUT/NAME.tar), unpacks the
# Vulkan loader and libglvnd, points the loader at NVIDIA's driver, prints the machine, and
# unpacks every binary of .gpu-bin/ into /tmp/gpu-bin. `step` starts a section of the log.
set -uo pipefail

gpu_start() {
  name=$1
  out=${OUT:-/tmp/gpu-out}
  results=/tmp/gpu-$name
  mkdir -p "$out" "$results" /tmp/gpu-bin
  exec > >(tee -a "$out/$name.txt") 2>&1
  begin=$SECONDS
  step "machine"
  for f in .gpu-bin/debs/*.deb; do dpkg -x "$f" /; done
  ldconfig
  local icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  [ -f "$icd" ] || icd=$(find / -name 'nvidia_icd*.json' -not -path '/proc/*' 2>/dev/null | head -1)
  [ -n "$icd" ] && export VK_DRIVER_FILES=$icd
  local egl=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  [ -f "$egl" ] && export __EGL_VENDOR_LIBRARY_FILENAMES=$egl
  echo "Vulkan driver: ${icd:-none found}"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  lscpu | grep -E 'Model name|^CPU\(s\)'
  for f in .gpu-bin/*.xz; do
    local binary
    binary=$(basename "$f" .xz)
    xz -dc "$f" > "/tmp/gpu-bin/$binary" && chmod +x "/tmp/gpu-bin/$binary"
  done
  # The fixtures are read from the source tree the tests were built in: point them here.
  export BURN_RNN_FIXTURES="$PWD/crates/model/tests/fixtures/pytorch" BURN_RNN_REQUIRE_WGPU=1
}

step() { echo; echo "== $* (at $((SECONDS - begin)) s)"; }

keep() { tar -cf "$out/$name.tar" -C "$results" .; }

# Ends the log (tee writes its last lines after the script's own end).
gpu_end() {
  step "done"
  sleep 1
}
