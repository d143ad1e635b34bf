"""Prints, as JSON, psutil's virtual_memory() and swap_memory(): the host
memory figures Python nvitop shows (its `host` module re-exports them).
Used by the host memory conformance test."""
import json

import psutil

vm = psutil.virtual_memory()
sw = psutil.swap_memory()
print(json.dumps({
    "memory": {k: getattr(vm, k) for k in ("total", "available", "used", "free", "percent")},
    "swap": {k: getattr(sw, k) for k in ("total", "used", "free", "percent")},
}))
