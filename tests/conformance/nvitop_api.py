"""Prints, as JSON, what Python nvitop's API reports for every device (MIG
devices too) and its processes, plus this script's own pid (the simulator's
`self` process). Used by the fake-NVML and monitor conformance tests."""
import json
import os

from nvitop import NA, Device


def v(x):
    return None if x is NA or x == "N/A" else x


out = []
for d in Device.all():
    entries = [(d, d.processes())]
    for m in d.mig_devices():
        entries.append((m, m.processes()))
    for dev, procs in entries:
        out.append({
            "index": dev.index if isinstance(dev.index, int) else list(dev.index),
            "name": v(dev.name()),
            "memory_used": v(dev.memory_used()),
            "memory_total": v(dev.memory_total()),
            "gpu_utilization": v(dev.gpu_utilization()),
            "temperature": v(dev.temperature()),
            "processes": {str(pid): v(p.gpu_memory()) for pid, p in procs.items()},
        })
print(json.dumps({"pid": os.getpid(), "devices": out}))
