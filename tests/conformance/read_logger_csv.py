#!/usr/bin/env python3
"""Read the logger's CSV file and its side file with pandas.

Usage: read_logger_csv.py CSV [SIDE]

Prints JSON: ``{"columns": [...], "dtypes": {column: dtype}, "kinds":
{kind: count}, "rows": N, "scalars": {column: [[step, value], ...]},
"side": [[step, tag, value], ...]}``. ``scalars`` holds the non-empty cells
of every column of ``scalar`` rows (the declared ``log_scalar`` tags);
``side`` the long-format side file of undeclared tags, when given.
"""

import json
import sys

import pandas as pd


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    frame = pd.read_csv(sys.argv[1])
    out = {
        "columns": list(frame.columns),
        "dtypes": {c: str(t) for c, t in frame.dtypes.items()},
        "kinds": {str(k): int(n) for k, n in frame["kind"].value_counts().items()},
        "rows": len(frame),
    }
    scalars = frame[frame["kind"] == "scalar"]
    out["scalars"] = {
        column: [[int(s), float(v)] for s, v in zip(scalars["step"], scalars[column]) if pd.notna(v)]
        for column in frame.columns[4:]
        if scalars[column].notna().any()
    }
    if len(sys.argv) == 3:
        side = pd.read_csv(sys.argv[2])
        if list(side.columns) != ["wall_time", "step", "tag", "value"]:
            print(f"side file columns: {list(side.columns)}", file=sys.stderr)
            return 1
        out["side"] = [[int(s), str(t), float(v)] for s, t, v in zip(side["step"], side["tag"], side["value"])]
    json.dump(out, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
