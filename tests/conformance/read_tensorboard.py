#!/usr/bin/env python3
"""Read TensorBoard event files the way TensorBoard itself does.

Usage:
    read_tensorboard.py LOGDIR                  # print a JSON summary
    read_tensorboard.py LOGDIR --expect JSON    # check against expectations

LOGDIR is a run directory or a parent of run directories; every directory
holding an ``events.out.tfevents.*`` file is loaded with TensorBoard's own
``EventAccumulator``, so this checks what TensorBoard will really show, not
what our own reader thinks.

The summary is ``{"runs": {RUN: {TAG: [[step, value, wall_time], ...]}}}``
with RUN relative to LOGDIR ("." for LOGDIR itself).

The expectation (a JSON string, or @FILE to read it from a file) maps each
tag to a list of ``[step, value]`` pairs, over all runs together; ``NaN`` is
accepted for NaN values. Values are compared as float32, since event files
store scalars as 32-bit floats. Exit status: 0 on a match, 1 on a mismatch
(with the differences on stderr), 2 on a usage error.
"""

import argparse
import json
import math
import os
import sys

from tensorboard.backend.event_processing import event_accumulator


def run_dirs(logdir):
    """Every directory under logdir that holds an event file."""
    for root, _dirs, files in sorted(os.walk(logdir)):
        if any("tfevents" in name for name in files):
            yield root


def load(logdir):
    runs = {}
    for directory in run_dirs(logdir):
        # size_guidance 0 = keep every event instead of a reservoir sample.
        acc = event_accumulator.EventAccumulator(
            directory, size_guidance={event_accumulator.SCALARS: 0}
        )
        acc.Reload()
        tags = {}
        for tag in acc.Tags()[event_accumulator.SCALARS]:
            tags[tag] = [[e.step, e.value, e.wall_time] for e in acc.Scalars(tag)]
        runs[os.path.relpath(directory, logdir)] = tags
    return {"runs": runs}


def same(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    # float32 has about 7 significant digits.
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-30) or a == b


def check(summary, expect):
    merged = {}
    for tags in summary["runs"].values():
        for tag, points in tags.items():
            merged.setdefault(tag, []).extend((step, value) for step, value, _ in points)
    problems = []
    for tag in sorted(set(expect) | set(merged)):
        want = [tuple(p) for p in expect.get(tag, [])]
        got = merged.get(tag, [])
        if tag not in expect:
            problems.append(f"unexpected tag {tag!r}: {got}")
        elif tag not in merged:
            problems.append(f"missing tag {tag!r}, expected {want}")
        elif len(want) != len(got) or any(
            ws != gs or not same(float(wv), float(gv))
            for (ws, wv), (gs, gv) in zip(want, got)
        ):
            problems.append(f"tag {tag!r}: expected {want}, got {got}")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("logdir")
    parser.add_argument("--expect", help="JSON expectation, or @FILE")
    args = parser.parse_args()
    if not os.path.isdir(args.logdir):
        print(f"not a directory: {args.logdir}", file=sys.stderr)
        return 2
    summary = load(args.logdir)
    if args.expect is None:
        json.dump(summary, sys.stdout, indent=2, sort_keys=True)
        print()
        return 0
    text = args.expect
    if text.startswith("@"):
        with open(text[1:], encoding="utf-8") as f:
            text = f.read()
    problems = check(summary, json.loads(text))
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
