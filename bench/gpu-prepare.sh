#!/bin/bash
# Builds, here, what one run on a GPU machine needs (that machine has no Rust toolchain and no
# network): the bench example and the model crate's tests (wgpu; `cuda` cannot be built offline:
# cubecl-cuda 0.11.3 downloads a prebuilt LLVM while building), stripped and compressed into
# .gpu-bin/ (with the healthcare example, as a user on a GPU would run it first), plus the Vulkan loader that machine lacks and the PyTorch script. .gpu-bin/ is
# ignored by git; the device tool carries it. Then, in one device call: bench/gpu-run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.gpu-bin/' .git/info/exclude 2>/dev/null || echo '/.gpu-bin/' >> .git/info/exclude
mkdir -p .gpu-bin/debs
cargo build --release --example bench --example healthcare
tests=$(cargo test --release --workspace --test model --no-run --message-format json 2>/dev/null \
  | python3 -c 'import json,sys; print([m["executable"] for m in map(json.loads, sys.stdin) if m.get("reason")=="compiler-artifact" and m.get("executable") and m["target"]["name"]=="model"][-1])')
for binary in target/release/examples/bench target/release/examples/healthcare "$tests"; do
  name=$(basename "$binary" | sed 's/-[0-9a-f]*$//')
  strip -o ".gpu-bin/$name" "$binary"
  xz -T2 -6 -f ".gpu-bin/$name"
done
cp bench/pytorch_bench.py .gpu-bin/
# The Vulkan loader and the GL dispatch libraries NVIDIA's Vulkan driver loads through (the
# device tool's README: the GPU machine has the driver, not these; with the loader alone, wgpu
# found no adapter there).
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
mkdir -p /tmp/amd64/partial
apt-get $o update -qq
(cd .gpu-bin/debs && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
du -sh .gpu-bin
