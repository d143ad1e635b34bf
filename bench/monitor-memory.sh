#!/usr/bin/env bash
# Where nvitop-monitor's resident memory goes, by mapping: the live viewer
# (`-m full`, graphs on, 160x60 tmux window, after DURATION seconds) and the
# one-shot run (stopped by gdb at nvmlShutdown, its peak: every reading done,
# the output written). Same machine as the side-by-side scripts: h100x8
# through the fake NVML library, 512 real sleepers. Prints /proc/<pid>/smaps
# summed by mapping: the binary's code, read-only data and relocated data,
# each shared library, the main heap, thread malloc arenas, blocks malloc
# mapped on their own, thread stacks. See bench/README.md ("Where the
# monitor's memory goes").
#
# Usage: bench/monitor-memory.sh [DURATION]   (default 20)
# Needs tmux; gdb for the one-shot part (skipped without it).
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${1:-20}
target=${CARGO_TARGET_DIR:-target}
hosts=512

command -v tmux >/dev/null || { echo "error: tmux is needed" >&2; exit 1; }
echo "==> building nvitop-monitor and the fake NVML library (release)"
cargo build --release --quiet -p nvitop-monitor -p fake-nvml
monitor="$PWD/$target/release/nvitop-monitor"

work=$(mktemp -d)
socket="nvitop-mem-$$"
sleepers=()
cleanup() {
  tmux -L "$socket" kill-server 2>/dev/null || true
  if [ ${#sleepers[@]} -gt 0 ]; then
    kill "${sleepers[@]}" 2>/dev/null || true
    wait "${sleepers[@]}" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

cp "$target/release/libnvidia_ml.so" "$work/libnvidia-ml.so.1"
for _ in $(seq "$hosts"); do
  sleep 3600 &
  sleepers+=("$!")
done
unset NVITOP_SIMULATE CUDA_VISIBLE_DEVICES NVITOP_SIM_LATENCY
export NVITOP_SIM_SCENARIO=preset:h100x8
export NVITOP_SIM_HOST_PIDS=$(IFS=,; echo "${sleepers[*]}")
export NVITOP_NVML_LIBRARY="$work/libnvidia-ml.so.1"
export LD_LIBRARY_PATH="$work${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export NVITOP_SIM_TIME=42
export TERM=xterm-256color

# Sums an smaps file by mapping kind, KiB of RSS.
summarize() {
  python3 - "$1" "$(basename "$monitor")" <<'PY'
import re, sys
path, binary = sys.argv[1], sys.argv[2]
maps, cur = [], None
for line in open(path):
    m = re.match(r'^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$', line)
    if m:
        cur = {'lo': int(m[1], 16), 'hi': int(m[2], 16), 'perm': m[3], 'name': m[4].strip(), 'Rss': 0}
        maps.append(cur)
        continue
    key, _, value = line.partition(':')
    if value.strip().endswith('kB'):
        cur[key] = int(value.split()[0])
totals, seen_text = {}, False
for mp in maps:
    name, perm, size = mp['name'].split('/')[-1], mp['perm'], mp['hi'] - mp['lo']
    if name == binary:
        if 'x' in perm:
            kind, seen_text = 'binary: code', True
        elif 'w' in perm:
            kind = 'binary: data, bss'
        elif seen_text:
            kind = 'binary: relocated read-only data (relro)'
        else:
            kind = 'binary: read-only data, unwind tables, relocations'
    elif name == '[heap]':
        kind = 'heap (main malloc arena)'
    elif name == '[stack]':
        kind = 'main thread stack'
    elif name == '':
        if mp['lo'] % (64 << 20) == 0:
            kind = 'malloc arenas of other threads'
        elif size >= (1 << 20):
            kind = 'thread stacks'
        else:
            kind = 'blocks malloc mapped on their own, TLS'
    elif name.endswith('.so.1') and 'nvidia-ml' in name:
        kind = 'the (fake) driver library, libnvidia-ml.so.1'
    elif '.so' in name:
        kind = name
    else:
        kind = name
    totals[kind] = totals.get(kind, 0) + mp['Rss']
for kind, kib in sorted(totals.items(), key=lambda kv: -kv[1]):
    if kib:
        print(f'    {kib:>6} KiB  {kind}')
print(f'    {sum(totals.values()):>6} KiB  total')
PY
}

echo "==> live viewer, -m full, 160x60, after $duration s"
tmux -L "$socket" -f /dev/null new-session -d -s m -x 160 -y 60 "$monitor" -m full
tmux -L "$socket" set-option -t m window-size manual >/dev/null
waited=0
until tmux -L "$socket" capture-pane -p -t m | grep -q 'sleep 3600'; do
  sleep 0.2
  waited=$((waited + 1))
  [ "$waited" -le 300 ] || { echo "error: no process rows in 60 s" >&2; exit 1; }
done
pid=$(tmux -L "$socket" display-message -p -t m '#{pane_pid}')
sleep "$duration"
cat "/proc/$pid/smaps" >"$work/live.smaps"
echo "    VmRSS $(awk '/^VmRSS/ { print $2, $3 }' "/proc/$pid/status"), $(ls "/proc/$pid/task" | wc -l) threads"
summarize "$work/live.smaps"
tmux -L "$socket" send-keys -t m q

if ! command -v gdb >/dev/null; then
  echo "==> one-shot: skipped (no gdb)"
  exit 0
fi
echo "==> one-shot (--no-color), at nvmlShutdown"
gdb -batch -ex 'set breakpoint pending on' -ex 'break nvmlShutdown' \
  -ex "run --no-color > /dev/null" \
  -ex "python import os; os.system('cat /proc/%d/smaps > $work/once.smaps' % gdb.selected_inferior().pid)" \
  -ex kill "$monitor" >/dev/null 2>&1 || true
[ -s "$work/once.smaps" ] || { echo "error: gdb did not stop the one-shot run at nvmlShutdown" >&2; exit 1; }
summarize "$work/once.smaps"
