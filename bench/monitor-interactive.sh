#!/usr/bin/env bash
# The live viewer on a busy 8-GPU machine: `nvitop-monitor -m` (release)
# against Python `nvitop -m`, side by side for the same DURATION seconds,
# each in its own 160x60 tmux window in the full layout (`-m full`: with
# nvitop-monitor's history graphs on, host and device), both reading the
# same fake NVML driver library (tests/fake-nvml, preset h100x8: 8 H100s x 64 processes
# bound to 512 real sleepers), default refresh intervals. Reports each
# program's CPU time (user + system, as a share of one core) and resident
# memory (mean and peak of VmRSS sampled every second).
#
# Then the key-to-frame latency with a slow driver: NVITOP_SIM_LATENCY
# (every driver call delayed, in the simulator and the fake library) set to
# LATENCY; KEYS keys (h, which opens help, and x, which leaves it) are sent to each viewer
# and the time until the screen changes is measured (tmux capture-pane
# polling, which adds about a millisecond). Where the build does not honour
# NVITOP_SIM_LATENCY (a one-shot run is not slowed), this part says so and
# reports nothing: a latency measured on an instant driver means nothing.
#
# Usage: bench/monitor-interactive.sh [DURATION] [KEYS]   (default 60 100;
#        KEYS 0 skips the latency part, which takes minutes)
# Env:   NVITOP_PYTHON  python with nvitop 1.7.2 (default .venv/conformance/bin/python)
#        LATENCY        driver latency for the key test (default 500ms)
#        CARGO_TARGET_DIR  as for cargo (default target)
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${1:-60}
keys=${2:-100}
latency=${LATENCY:-500ms}
python=${NVITOP_PYTHON:-.venv/conformance/bin/python}
target=${CARGO_TARGET_DIR:-target}
hosts=512

if [ ! -x "$python" ]; then
  echo "error: no Python at $python (set NVITOP_PYTHON to a python with nvitop installed, or run .ci/conformance)" >&2
  exit 1
fi
command -v tmux >/dev/null || { echo "error: tmux is needed" >&2; exit 1; }

echo "==> building nvitop-monitor and the fake NVML library (release)"
cargo build --release --quiet -p nvitop-monitor -p fake-nvml
monitor="$PWD/$target/release/nvitop-monitor"

work=$(mktemp -d)
socket="nvitop-bench-$$"
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
host_pids=$(IFS=,; echo "${sleepers[*]}")

unset NVITOP_SIMULATE CUDA_VISIBLE_DEVICES NVITOP_SIM_LATENCY
export NVITOP_SIM_SCENARIO=preset:h100x8
export NVITOP_SIM_HOST_PIDS=$host_pids
export NVITOP_NVML_LIBRARY="$work/libnvidia-ml.so.1"
export LD_LIBRARY_PATH="$work${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export TERM=xterm-256color

"$python" -c 'import nvitop; print("    Python nvitop", nvitop.__version__)'
tmux -L "$socket" -f /dev/null start-server \; set-option -g window-size manual 2>/dev/null || true

# Starts `name` running the rest of the arguments in a 160x60 window; waits
# until its screen shows the machine's processes.
start() {
  local name=$1
  shift
  tmux -L "$socket" -f /dev/null new-session -d -s "$name" -x 160 -y 60 "$@"
  tmux -L "$socket" set-option -t "$name" window-size manual >/dev/null
  local waited=0
  until tmux -L "$socket" capture-pane -p -t "$name" | grep -q 'sleep 3600'; do
    sleep 0.2
    waited=$((waited + 1))
    if [ "$waited" -gt 300 ]; then
      echo "error: $name showed no process rows in 60 s; its screen:" >&2
      tmux -L "$socket" capture-pane -p -t "$name" >&2
      exit 1
    fi
  done
}
pid_of() { tmux -L "$socket" display-message -p -t "$1" '#{pane_pid}'; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

echo "==> both viewers, side by side, $duration s (160x60, -m full with graphs, h100x8 through the fake NVML library)"
start monitor "$monitor" -m full
start nvitop "$python" -m nvitop -m full
# The monitor's graphs must be on screen, or the figure is not the one asked.
tmux -L "$socket" capture-pane -p -t monitor | grep -q 'GPU MEM (avg)' || {
  echo "error: nvitop-monitor shows no history graphs at 160x60; its screen:" >&2
  tmux -L "$socket" capture-pane -p -t monitor >&2
  exit 1
}
mpid=$(pid_of monitor)
ppid=$(pid_of nvitop)
# A few seconds in: past start-up, every process read once.
sleep 5
m0=$(cpu_ticks "$mpid"); p0=$(cpu_ticks "$ppid")
: >"$work/monitor.rss"; : >"$work/nvitop.rss"
for _ in $(seq "$duration"); do
  sleep 1
  rss_kib "$mpid" >>"$work/monitor.rss"
  rss_kib "$ppid" >>"$work/nvitop.rss"
done
m1=$(cpu_ticks "$mpid"); p1=$(cpu_ticks "$ppid")
tck=$(getconf CLK_TCK)
stats() { awk '{ s += $1; if ($1 > m) m = $1 } END { printf "%.1f %.1f", s / NR / 1024, m / 1024 }' "$1"; }
read -r mr_mean mr_peak <<<"$(stats "$work/monitor.rss")"
read -r pr_mean pr_peak <<<"$(stats "$work/nvitop.rss")"
tmux -L "$socket" send-keys -t monitor q
tmux -L "$socket" send-keys -t nvitop q
sleep 1
tmux -L "$socket" kill-server 2>/dev/null || true

echo
echo "h100x8 (8 GPUs, $hosts processes), $duration s, $(nproc) CPUs, load average now $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v m0="$m0" -v m1="$m1" -v p0="$p0" -v p1="$p1" -v t="$tck" -v d="$duration" \
  -v mrm="$mr_mean" -v mrp="$mr_peak" -v prm="$pr_mean" -v prp="$pr_peak" 'BEGIN {
  mc = (m1 - m0) / t; pc = (p1 - p0) / t
  printf "%-18s %12s %12s %14s %14s\n", "", "CPU time", "CPU (core)", "RSS mean", "RSS peak"
  printf "%-18s %10.2f s %11.2f%% %10.1f MiB %10.1f MiB\n", "nvitop-monitor -m", mc, mc / d * 100, mrm, mrp
  printf "%-18s %10.2f s %11.2f%% %10.1f MiB %10.1f MiB\n", "nvitop -m", pc, pc / d * 100, prm, prp
  printf "%-18s %11s %12.1fx %13.1fx %13.1fx\n", "nvitop / monitor", "", (mc > 0) ? pc / mc : 0, prm / mrm, prp / mrp
  printf "(targets: CPU at most 1/10 of nvitop: %s; RSS at most 1/3: %s)\n", (mc * 10 <= pc) ? "met" : "NOT met", (mrp * 3 <= prp) ? "met" : "NOT met"
}'

if [ "$keys" -eq 0 ]; then
  exit 0
fi
echo
echo "==> key-to-frame latency, NVITOP_SIM_LATENCY=$latency, $keys keys each"
export NVITOP_SIM_LATENCY=$latency
t0=$(date +%s%N)
"$monitor" --no-color >/dev/null
t1=$(date +%s%N)
once_ms=$(((t1 - t0) / 1000000))
if [ "$once_ms" -lt 400 ]; then
  echo "    NVITOP_SIM_LATENCY is not honoured by this build (a one-shot run took $once_ms ms):"
  echo "    no latency figure (it would be an instant driver's)."
  exit 0
fi
echo "    a one-shot run takes $once_ms ms with this latency"
probe() {
  "$python" -S - "$socket" "$1" "$keys" <<'PY'
import subprocess, sys, time
socket, session, keys = sys.argv[1], sys.argv[2], int(sys.argv[3])
def screen():
    return subprocess.run(["tmux", "-L", socket, "capture-pane", "-p", "-t", session],
                          capture_output=True, text=True, check=True).stdout
lat = []
for i in range(keys):
    time.sleep(0.05 + (i % 7) * 0.037)  # spread over the driver calls
    before = screen()
    t0 = time.perf_counter()
    subprocess.run(["tmux", "-L", socket, "send-keys", "-t", session, "hx"[i % 2]], check=True)
    while screen() == before:
        if time.perf_counter() - t0 > 30:
            sys.exit(f"{session}: no new frame 30 s after a key")
    lat.append((time.perf_counter() - t0) * 1000)
lat.sort()
pct = lambda p: lat[min(len(lat) - 1, int(len(lat) * p))]
print(f"    {session:8s} p50 {pct(0.5):8.1f} ms   p99 {pct(0.99):8.1f} ms   max {lat[-1]:8.1f} ms")
PY
}
# With every call slowed, a first full reading of 8 GPUs takes minutes: the
# keys are sent as soon as a viewer shows anything, while its collection is
# inside the driver (nvitop's first frame itself waits on the driver).
start_frame() {
  local name=$1
  shift
  tmux -L "$socket" -f /dev/null new-session -d -s "$name" -x 160 -y 60 "$@"
  tmux -L "$socket" set-option -t "$name" window-size manual >/dev/null
  local waited=0
  until tmux -L "$socket" capture-pane -p -t "$name" | grep -q '[^[:space:]]'; do
    sleep 0.2
    waited=$((waited + 1))
    if [ "$waited" -gt 900 ]; then
      echo "error: $name drew nothing in 180 s" >&2
      exit 1
    fi
  done
  echo "    $name: first frame after $((waited / 5)) s"
}
start_frame monitor "$monitor" -m
probe monitor
start_frame nvitop "$python" -m nvitop -m
probe nvitop
