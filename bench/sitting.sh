# Sourced by the scripts of interleaved rounds (rounds.sh, bf16.sh, streaming.sh): reads their
# arguments OUT_DIR [ROUNDS] [PYTHON], goes to the repository root, and records the sitting in
# OUT_DIR/machine.txt: the CPU's model name, the commit, and the time and load average before
# and after (figures are only comparable within one sitting, on an idle machine).
out=${1:?usage: $0 OUT_DIR [ROUNDS] [PYTHON]}
rounds=${2:-2}
python=${3:-python3}
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p "$out"
sitting_now() {
  echo "$(date -u '+%Y-%m-%d %H:%M:%S UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
}
{
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p')"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "start: $(sitting_now)"
} > "$out/machine.txt"
trap 'echo "end: $(sitting_now)" >> "$out/machine.txt"' EXIT
