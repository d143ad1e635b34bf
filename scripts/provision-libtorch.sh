#!/usr/bin/env bash
# Provision libtorch for the `nvitop-tch` crate (tch 0.26 expects libtorch
# 2.13.0) from PyPI wheels, for machines where tch's own `download-libtorch`
# server cannot be reached but PyPI can.
#
# The `torch==2.13.0` manylinux wheel carries a complete libtorch (headers and
# shared libraries). Only the CPU part is unpacked: libtorch_cuda.so alone is
# ~470 MB and would pull cuBLAS, cuDNN, NCCL... But libtorch_cpu.so of the
# CUDA build still links `libcudart.so.13` and `libcupti.so.13`, so those two
# come from the small `nvidia-cuda-runtime` / `nvidia-cuda-cupti` wheels (the
# versions `cuda-toolkit==13.0.3`, torch's own requirement, pins). Result:
# ~490 MB under the cache folder, enough to build and run tch programs on the
# CPU. (GPU tch programs need a full libtorch with libtorch_cuda.so.)
#
# Usage:
#   eval "$(scripts/provision-libtorch.sh)"     # downloads once, then reuses
#
# Progress goes to stderr; stdout is only the `export` lines to use.
#
# Environment:
#   NVITOP_LIBTORCH_CACHE  cache folder (default: <repo>/.cache/libtorch)
#   NVITOP_LIBTORCH_KEEP_WHEELS=1  keep the downloaded wheels (~540 MB) in
#                          <cache>/wheels instead of deleting them
#   PYTHON                 Python with pip (default: python3)
#
# Idempotent: a stamp file records what was unpacked; a second run with the
# same versions only prints the exports.
set -euo pipefail

TORCH_VERSION=2.13.0
CUDART_VERSION=13.0.96
CUPTI_VERSION=13.0.85
# SHA-256 of the exact wheels (PyPI's): pip refuses anything else, whichever
# index or find-links it is configured with. A new version needs new hashes:
# `sha256sum` of the wheels that the `pip download` below fetches without
# `--require-hashes`, or the digests PyPI lists for those files.
TORCH_SHA256=60fcdcb2f3876e21146cb4524ef06397d727ca9ad5f020818547e25075fe3cb7 # cp311 manylinux_2_28_x86_64
CUDART_SHA256=7f82250d7782aa23b6cfe765ecc7db554bd3c2870c43f3d1821f1d18aebf0548
CUPTI_SHA256=4eb01c08e859bf924d222250d2e8f8b8ff6d3db4721288cf35d14252a4d933c8

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache_dir=${NVITOP_LIBTORCH_CACHE:-$repo_root/.cache/libtorch}
python=${PYTHON:-python3}
libtorch=$cache_dir/torch
stamp=$libtorch/.provisioned
key="torch=$TORCH_VERSION cudart=$CUDART_VERSION cupti=$CUPTI_VERSION"

log() { printf 'provision-libtorch: %s\n' "$*" >&2; }

if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  log "only Linux x86_64 is supported here (got $(uname -s)-$(uname -m));"
  log "elsewhere install libtorch $TORCH_VERSION yourself and set LIBTORCH"
  exit 1
fi

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ]; then
  log "libtorch $TORCH_VERSION already provisioned in $libtorch"
else
  wheels=$cache_dir/wheels
  mkdir -p "$wheels"
  # pip reuses a wheel already present in the destination folder, so an
  # interrupted run resumes without downloading everything again.
  # The --platform list names every manylinux tag these wheels use: this pip
  # does not widen one tag to the older compatible ones by itself. Hashes
  # can only be given in a requirements file: it comes on stdin.
  log "downloading torch==$TORCH_VERSION (~530 MB) and the CUDA runtime wheels from PyPI"
  "$python" -m pip download --quiet --no-deps --only-binary=:all: \
    --python-version 3.11 \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_25_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --dest "$wheels" --require-hashes -r /dev/stdin >&2 <<REQUIREMENTS
torch==$TORCH_VERSION --hash=sha256:$TORCH_SHA256
nvidia-cuda-runtime==$CUDART_VERSION --hash=sha256:$CUDART_SHA256
nvidia-cuda-cupti==$CUPTI_VERSION --hash=sha256:$CUPTI_SHA256
REQUIREMENTS

  staging=$cache_dir/staging.$$
  rm -rf "$staging"
  mkdir -p "$staging"
  trap 'rm -rf "$staging"' EXIT
  log "unpacking torch/lib (CPU libraries), torch/include and the CUDA runtime"
  # Python's zipfile rather than `unzip`: pip already needs Python, unzip may
  # be missing.
  "$python" - "$wheels" "$staging" "$TORCH_VERSION" <<'EOF'
import glob, os, shutil, sys, zipfile

wheels, staging, version = sys.argv[1:4]
out = os.path.join(staging, "torch")
lib = os.path.join(out, "lib")
os.makedirs(lib)

def one(pattern):
    found = sorted(glob.glob(os.path.join(wheels, pattern)))
    if not found:
        sys.exit(f"provision-libtorch: no wheel matching {pattern} in {wheels}")
    return found[-1]

# The CPU half of libtorch. libtorch.so lists libtorch_cuda.so as needed but
# uses no symbol from it: the linker only warns, and with --as-needed (rustc's
# default) the binary does not reference libtorch.so at all.
cpu_libs = {"libc10.so", "libgomp.so.1", "libshm.so", "libtorch.so",
            "libtorch_cpu.so", "libtorch_global_deps.so"}
with zipfile.ZipFile(one(f"torch-{version}-*.whl")) as whl:
    for info in whl.infolist():
        name = info.filename
        if name.endswith("/"):
            continue
        if name.startswith("torch/include/") or (
            name.startswith("torch/lib/") and os.path.basename(name) in cpu_libs
        ) or name == "torch/version.py":
            whl.extract(info, staging)
    version_py = whl.read("torch/version.py").decode()

# torch-sys checks LIBTORCH/build-version against the version it expects
# (libtorch zips have that file, wheels do not), so write it: a mismatch then
# fails the build clearly instead of at link or run time.
full = next(l.split("'")[1] for l in version_py.splitlines() if l.startswith("__version__"))
with open(os.path.join(out, "build-version"), "w") as f:
    f.write(full + "\n")

# The CUDA runtime libraries go next to libtorch_cpu.so: its RPATH includes
# $ORIGIN, so they are found at link and run time without extra paths.
for pattern, soname in (("nvidia_cuda_runtime-*.whl", "libcudart.so.13"),
                        ("nvidia_cuda_cupti-*.whl", "libcupti.so.13")):
    with zipfile.ZipFile(one(pattern)) as whl:
        member = next(n for n in whl.namelist() if n.endswith("/lib/" + soname))
        with whl.open(member) as src, open(os.path.join(lib, soname), "wb") as dst:
            shutil.copyfileobj(src, dst)

for name in os.listdir(lib):
    os.chmod(os.path.join(lib, name), 0o755)
EOF
  rm -rf "$libtorch"
  mv "$staging/torch" "$libtorch"
  printf '%s' "$key" > "$stamp"
  if [ "${NVITOP_LIBTORCH_KEEP_WHEELS:-0}" != 1 ]; then
    rm -rf "$wheels"
  fi
  log "done: $(du -sh "$libtorch" | cut -f1) in $libtorch"
fi

printf 'export LIBTORCH=%q\n' "$libtorch"
printf 'export LD_LIBRARY_PATH=%q${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}\n' "$libtorch/lib"
