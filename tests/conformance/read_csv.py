#!/usr/bin/env python3
"""Print a CSV file as JSON, parsed by Python's own ``csv`` module.

Usage: read_csv.py FILE

Prints ``{"header": [...], "rows": [{column: cell, ...}, ...]}`` with every
cell as the string the csv module read (empty string for an empty cell), so
a test can check exactly what Python-side tools (pandas, Lightning's
readers) will see. Exit status 1 if a row has a different number of cells
than the header.
"""

import csv
import json
import sys


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, [])
        rows = []
        status = 0
        for number, cells in enumerate(reader, start=2):
            if len(cells) != len(header):
                print(
                    f"line {number}: {len(cells)} cells, header has {len(header)}",
                    file=sys.stderr,
                )
                status = 1
            rows.append(dict(zip(header, cells)))
    json.dump({"header": header, "rows": rows}, sys.stdout, indent=2)
    print()
    return status


if __name__ == "__main__":
    sys.exit(main())
