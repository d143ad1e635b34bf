#!/usr/bin/env bash
# Figures for bench/EXPORTER.md: nvitop-exporter (release build) in a fleet
# of 20 scraped by a real Prometheus every second for a minute, under 50
# concurrent scrapers for 30 s, and side by side with Python
# nvitop-exporter 1.7.2 on the same fake machine (h100x8 through the fake
# NVML library, pinned simulated time, same host pids), each scraped once a
# second for 30 s.
#
# Needs: prometheus (Debian package), curl, and for the side-by-side part
# .venv/conformance with nvitop-exporter (bash .ci/conformance makes it).
# Loopback only. Usage: bash bench/exporter-fleet.sh [out.json]
# (NVITOP_SKIP_FLEET=1: only the side-by-side part.)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-target/exporter-bench.json}"
mkdir -p "$(dirname "$out")"

if [ "${NVITOP_SKIP_FLEET:-0}" != 1 ]; then
  rm -f "$out"
  echo "== fleet and load (release build)"
  NVITOP_BENCH_JSON="$PWD/$out" cargo test --release --locked -p nvitop-exporter --test fleet -- \
    --ignored --nocapture --test-threads 1 2>&1 | grep -E '^(fleet|load|node-|test )' || true
fi

python=.venv/conformance/bin/python
if [ ! -x "$python" ] || ! "$python" -c 'import nvitop_exporter' 2>/dev/null; then
  echo "no .venv/conformance with nvitop-exporter: skipping the side-by-side part (bash .ci/conformance)"
  exit 0
fi

echo "== side by side with Python nvitop-exporter 1.7.2 (h100x8, fake NVML, 30 s, one scrape a second)"
cargo build --release --locked -p nvitop-exporter -p fake-nvml 2>&1 | tail -1
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
cp target/release/libnvidia_ml.so "$work/libnvidia-ml.so.1"
for _ in $(seq 512); do sleep 600 & pids+=($!); done
host_pids=$(IFS=,; echo "${pids[*]}")
export NVITOP_SIM_SCENARIO=preset:h100x8 NVITOP_SIM_TIME=42 NVITOP_SIM_HOST_PIDS="$host_pids"

measure() { # name port pid
  local name=$1 port=$2 pid=$3 ticks t0 t1 w0 w1 times=()
  ticks=$(getconf CLK_TCK)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/metrics" >/dev/null && break; sleep 0.2; done
  sleep 3
  t0=$(awk '{print $14+$15}' "/proc/$pid/stat")
  w0=$(date +%s.%N)
  for _ in $(seq 30); do
    times+=("$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$port/metrics")")
    sleep 1
  done
  t1=$(awk '{print $14+$15}' "/proc/$pid/stat")
  w1=$(date +%s.%N)
  local rss size
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  size=$(curl -s "http://127.0.0.1:$port/metrics" | wc -c)
  printf '%s\n' "${times[@]}" | sort -n | awk -v name="$name" -v cpu="$(( t1 - t0 ))" -v ticks="$ticks" -v rss="$rss" -v size="$size" -v wall="$(awk -v a="$w0" -v b="$w1" 'BEGIN { print b - a }')" '
    { v[NR] = $1 * 1000 }
    END { printf "%-26s scrape median %6.2f ms, max %6.2f ms; CPU %5.2f %% of a core over %.0f s; RSS %6.1f MiB; %d KiB per scrape\n",
          name, v[int((NR + 1) / 2)], v[NR], cpu / ticks / wall * 100, wall, rss / 1024, size / 1024 }'
}

NVITOP_NVML_LIBRARY="$work/libnvidia-ml.so.1" target/release/nvitop-exporter --port 18801 --hostname bench 2>/dev/null &
pids+=($!); ours=$!
LD_LIBRARY_PATH="$work" "$python" -m nvitop_exporter --port 18802 --hostname bench >/dev/null 2>&1 &
pids+=($!); theirs=$!
measure "nvitop-exporter (Rust)" 18801 "$ours"
measure "nvitop-exporter 1.7.2 (Py)" 18802 "$theirs"
echo "figures written to $out"
