"""Prints, as JSON, what Python nvitop's API reports of each GPU process's
host side (through psutil): owner, command, state, resident memory, start
and age. Used by the monitor's conformance test of its process details."""
import json

from nvitop import NA, Device


def v(x):
    return None if x is NA or x == "N/A" else x


out = []
for d in Device.all():
    devices = [d, *d.mig_devices()]
    for dev in devices:
        index = dev.index if isinstance(dev.index, int) else "%d:%d" % dev.index
        for pid, p in dev.processes().items():
            with p.oneshot():
                running = p.running_time()
                out.append({
                    "device_index": str(index),
                    "pid": pid,
                    "type": v(p.type),
                    "username": v(p.username()),
                    "name": v(p.name()),
                    "cmdline": v(p.cmdline()),
                    "status": v(p.status()),
                    "rss": v(p.host_memory()),
                    "memory_percent": v(p.memory_percent()),
                    "create_time": v(p.create_time()),
                    "running_time": None if running is NA else running.total_seconds(),
                })
print(json.dumps(out))
