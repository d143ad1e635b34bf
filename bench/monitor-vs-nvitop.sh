#!/usr/bin/env bash
# One-shot status of a busy 8-GPU machine: nvitop-monitor (release) against
# Python `nvitop --once`, both reading the same fake NVML driver library
# (tests/fake-nvml, preset h100x8: 8 H100s x 64 processes), so both go
# through the same driver path and neither needs a GPU. Measures, for each
# run, the whole process's wall time, CPU time and peak RSS; prints the
# medians and the ratios. Runs twice: on an instant driver
# (NVITOP_SIM_LATENCY=none) and on one that answers as slowly as a real
# driver (NVITOP_SIM_LATENCY=realistic, docs/SIMULATOR.md). See bench/README.md.
#
# Usage: bench/monitor-vs-nvitop.sh [ROUNDS]          (default 10)
# Env:   NVITOP_PYTHON  python with nvitop installed (default .venv/conformance/bin/python)
#        NVITOP_SIM_TIME  simulated time (default 42)
#        BENCH_LATENCIES  driver latencies to run (default "none realistic")
#        CARGO_TARGET_DIR  as for cargo (default target)
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${1:-10}
python=${NVITOP_PYTHON:-.venv/conformance/bin/python}
target=${CARGO_TARGET_DIR:-target}
hosts=512 # h100x8 binds host:0 .. host:511

if [ ! -x "$python" ]; then
  echo "error: no Python at $python (set NVITOP_PYTHON to a python with nvitop installed, or run .ci/conformance)" >&2
  exit 1
fi
# BENCH_NO_GNU_TIME=1 forces the Python fallback (to test it).
if [ -x /usr/bin/time ] && [ "${BENCH_NO_GNU_TIME:-0}" != 1 ]; then
  gnu_time=1
else
  gnu_time=0
fi

echo "==> building nvitop-monitor and the fake NVML library (release)"
cargo build --release --quiet -p nvitop-monitor -p fake-nvml
monitor="$target/release/nvitop-monitor"

work=$(mktemp -d)
sleepers=()
cleanup() {
  # Only the sleepers this script started, by pid.
  if [ ${#sleepers[@]} -gt 0 ]; then
    kill "${sleepers[@]}" 2>/dev/null || true
    wait "${sleepers[@]}" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# Before the sleepers: forking 512 of them briefly inflates the load average.
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
compilers=$(pgrep -c -x rustc || true)

# A private copy under the name clients load.
cp "$target/release/libnvidia_ml.so" "$work/libnvidia-ml.so.1"

# Real processes for the simulated ones: Python nvitop looks every pid up
# with psutil and drops those it cannot find, and the monitor reads their
# /proc entries; both then show 512 live processes.
for _ in $(seq "$hosts"); do
  sleep 3600 &
  sleepers+=("$!")
done
host_pids=$(IFS=,; echo "${sleepers[*]}")

unset NVITOP_SIMULATE CUDA_VISIBLE_DEVICES
export NVITOP_SIM_SCENARIO=preset:h100x8
export NVITOP_SIM_TIME=${NVITOP_SIM_TIME:-42}
export NVITOP_SIM_HOST_PIDS=$host_pids
# Both programs get the same environment, set here rather than through an
# `env` wrapper that would add an exec to every timed run: the monitor loads
# the library named by NVITOP_NVML_LIBRARY, pynvml finds it on LD_LIBRARY_PATH.
export NVITOP_NVML_LIBRARY="$work/libnvidia-ml.so.1"
export LD_LIBRARY_PATH="$work${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

monitor_cmd=("$monitor" --no-color)
nvitop_cmd=("$python" -m nvitop --once)

# Both must print the whole machine before any timing means anything (these
# runs also warm the page cache and Python's bytecode cache).
check() {
  local name=$1 out=$2 status=$3
  local gpus procs
  gpus=$(grep -c '00000000:' "$out" || true)
  procs=$(grep -c 'sleep 3600' "$out" || true)
  echo "    $name: exit $status, $gpus GPU rows, $procs process rows"
  if [ "$status" -ne 0 ] || [ "$gpus" -ne 8 ] || [ "$procs" -ne "$hosts" ]; then
    echo "error: $name did not print 8 GPUs and $hosts processes; its output and errors:" >&2
    cat "$out" "$out.err" >&2
    exit 1
  fi
}
"$python" -c 'import nvitop; print("    Python nvitop", nvitop.__version__)'
echo "    before the sleepers: load average $load_before, $compilers rustc processes running"

# One measured run: appends "wall_seconds peak_rss_kib cpu_seconds" to
# $work/$name.times (CPU: user + system time of the whole process).
measure() {
  local name=$1
  shift
  local t0 t1 status=0
  if [ "$gnu_time" = 1 ]; then
    # Wall time from bash's EPOCHREALTIME around the run (microseconds; GNU
    # time's %e has 10 ms steps), peak RSS from GNU time's %M (KiB).
    # CPU time from bash's `time` (children's rusage, 1 ms steps; GNU
    # time's own %U/%S have 10 ms steps): it includes GNU time's own few
    # hundred microseconds, the same for both programs.
    t0=$EPOCHREALTIME
    TIMEFORMAT='%3U %3S'
    { time /usr/bin/time -f '%M' -o "$work/rusage" "$@" >"$work/out" 2>"$work/err" || status=$?; } 2>"$work/cpu"
    t1=$EPOCHREALTIME
    awk -v a="$t0" -v b="$t1" -v m="$(tail -n 1 "$work/rusage")" -v c="$(tail -n 1 "$work/cpu")" \
      'BEGIN { split(c, u, " "); printf "%.6f %d %.3f\n", b - a, m, u[1] + u[2] }' >"$work/sample"
  else
    # No GNU time: a small Python wrapper forks, execs the command and reads
    # its rusage (wait4, the per-child form of getrusage(RUSAGE_CHILDREN)).
    # The wall time is taken inside, so Python's own start-up is not in it.
    "$python" -S -c '
import os, sys, time
sample, cmd = sys.argv[1], sys.argv[2:]
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.dup2(os.open(sample + ".out", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), 1)
        os.dup2(os.open(sample + ".err", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), 2)
        os.execvp(cmd[0], cmd)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
t1 = time.perf_counter()
with open(sample, "w") as f:
    f.write("%.6f %d %.6f\n" % (t1 - t0, usage.ru_maxrss, usage.ru_utime + usage.ru_stime))
sys.exit(os.waitstatus_to_exitcode(status))
' "$work/sample" "$@" || status=$?
    mv "$work/sample.out" "$work/out"
    mv "$work/sample.err" "$work/err"
  fi
  if [ "$status" -ne 0 ]; then
    echo "error: $name exited with $status:" >&2
    cat "$work/err" >&2
    exit 1
  fi
  cat "$work/sample" >>"$work/$name.times"
}

if [ "$gnu_time" = 0 ]; then
  # A forked child's peak RSS starts at its parent's: the wrapper's size is a
  # floor under every figure (GNU time, a small C program, has a lower one).
  measure floor true
  echo "    note: /usr/bin/time not found; peak RSS through a Python wrapper, floor $(cut -d' ' -f2 "$work/floor.times") KiB (what \`true\` shows)"
fi

median() { # column of $work/$1.times
  sort -g -k"$2","$2" "$work/$1.times" | awk -v c="$2" '{ v[NR] = $c } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# One latency: check both print the machine, then the rounds, then the summary.
bench() {
  local latency=$1
  export NVITOP_SIM_LATENCY=$latency
  rm -f "$work/monitor.times" "$work/nvitop.times"
  echo
  echo "==> driver latency: $latency"
  echo "==> checking that both print 8 GPUs and $hosts processes"
  local status=0
  "${monitor_cmd[@]}" >"$work/monitor.txt" 2>"$work/monitor.txt.err" || status=$?
  check nvitop-monitor "$work/monitor.txt" "$status"
  status=0
  "${nvitop_cmd[@]}" >"$work/nvitop.txt" 2>"$work/nvitop.txt.err" || status=$?
  check "nvitop --once" "$work/nvitop.txt" "$status"

  echo "==> $rounds rounds, alternating (load average now $(cut -d' ' -f1-3 /proc/loadavg), $(pgrep -c -x rustc || true) rustc processes running)"
  local round
  for round in $(seq "$rounds"); do
    # Alternate which goes first, so a drift in machine load hits both alike.
    if [ $((round % 2)) -eq 1 ]; then
      measure monitor "${monitor_cmd[@]}"
      measure nvitop "${nvitop_cmd[@]}"
    else
      measure nvitop "${nvitop_cmd[@]}"
      measure monitor "${monitor_cmd[@]}"
    fi
    # shellcheck disable=SC2046 # each tail gives three numbers, split on purpose
    printf '    round %2d: nvitop-monitor %6.3f s %7d KiB %6.3f s CPU | nvitop --once %6.3f s %7d KiB %6.3f s CPU\n' "$round" \
      $(tail -n 1 "$work/monitor.times") $(tail -n 1 "$work/nvitop.times")
  done
  echo "    after: load average $(cut -d' ' -f1-3 /proc/loadavg), $(pgrep -c -x rustc || true) rustc processes running"

  local mw mm mc pw pm pc
  mw=$(median monitor 1); mm=$(median monitor 2); mc=$(median monitor 3)
  pw=$(median nvitop 1); pm=$(median nvitop 2); pc=$(median nvitop 3)
  echo
  echo "h100x8 (8 GPUs, $hosts processes) through the fake NVML library, driver latency $latency, $rounds rounds, $(nproc) CPUs"
  awk -v mw="$mw" -v mm="$mm" -v mc="$mc" -v pw="$pw" -v pm="$pm" -v pc="$pc" -v latency="$latency" 'BEGIN {
    printf "%-16s %14s %16s %16s\n", "", "median wall", "median peak RSS", "median CPU time"
    printf "%-16s %12.1f ms %12.1f MiB %13.1f ms\n", "nvitop-monitor", mw * 1000, mm / 1024, mc * 1000
    printf "%-16s %12.1f ms %12.1f MiB %13.1f ms\n", "nvitop --once", pw * 1000, pm / 1024, pc * 1000
    printf "%-16s %13.1fx %15.1fx %15.1fx\n", "ratio", pw / mw, pm / mm, (mc > 0) ? pc / mc : 0
    verdict = "met"
    if (latency == "none") {
      cpu = (mc > 0) ? pc / mc : 0
      printf "(targets on the instant driver: CPU >= 10x less: %s, wall >= 4x less: %s, peak RSS >= 3.5x less: %s)\n",
        (cpu >= 10) ? "met" : "NOT met", (pw / mw >= 4) ? "met" : "NOT met", (pm / mm >= 3.5) ? "met" : "NOT met"
    } else if (latency == "realistic") {
      printf "(target with realistic latency: wall at most half of Python nvitop'"'"'s: %s)\n", (pw / mw >= 2) ? "met" : "NOT met"
    }
  }'
}

for latency in ${BENCH_LATENCIES:-none realistic}; do
  bench "$latency"
done
