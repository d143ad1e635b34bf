#!/usr/bin/env python3
"""Print, as JSON, what nvitop's ``ResourceMetricCollector`` collects.

Usage: collector_metrics.py SAMPLES

Collects over every CUDA-visible device (``Device.cuda.all()``, so scopes
are ``cuda:N (gpu:M)``) and this process and its descendants, under the
nested tags ``train`` and ``batch``: takes SAMPLES snapshots, then prints
``{"pid": PID, "metrics": {key: value}}`` with NaN values (nvitop's N/A) as
``null``. Run it against the fake NVML library to compare nvitop's keys,
scopes and units with nvitop-rs's ``ResourceCollector``.
"""

import json
import math
import os
import sys

from nvitop import Device, HostProcess, ResourceMetricCollector


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    samples = int(sys.argv[1])
    # nvitop 1.7.2 keeps its root processes in a WeakSet only, so without a
    # strong reference they are gone before the first snapshot and no
    # process metrics are collected at all.
    root = HostProcess(os.getpid())
    collector = ResourceMetricCollector(Device.cuda.all(), interval=60.0)
    with collector(tag="train"):
        with collector(tag="batch"):
            for _ in range(samples):
                collector.take_snapshots()
            metrics = collector.collect()
    out = {k: (None if math.isnan(v) else v) for k, v in metrics.items()}
    json.dump({"pid": root.pid, "metrics": out}, sys.stdout, indent=1, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
