"""Each evidence family's wall time (tuning + table, as ``platform.evidence`` recorded it in
``STORAGE/<family>/timing.json``, summed over resumes) against its 45-minute budget on the
machine that ran it, with the seeds and trial counts behind it.

    python benchmarks/evidence_budget.py [--storage evidence] [--budget-minutes 45]
"""
import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from platform.evidence_families import FAMILIES  # noqa: E402

BUDGET_MINUTES = 45.0


def trial_count(folder: str) -> int:
    path = os.path.join(folder, "trials.parquet")
    if not os.path.isfile(path):
        return 0
    import pyarrow.parquet as pq

    return pq.read_metadata(path).num_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--storage", default="evidence")
    parser.add_argument("--budget-minutes", type=float, default=BUDGET_MINUTES)
    args = parser.parse_args()
    print(f"{'family':<14}{'tune min':>10}{'table min':>11}{'total':>8}{'budget':>8}{'ratio':>7}"
          f"{'tune trials':>13}{'table trials':>14}")
    for name in FAMILIES:
        folder = os.path.join(args.storage, name)
        path = os.path.join(folder, "timing.json")
        if not os.path.isfile(path):
            print(f"{name:<14}{'not run':>10}")
            continue
        with open(path) as fh:
            timing = json.load(fh)
        tune, table = timing.get("tune_seconds", 0) / 60, timing.get("table_seconds", 0) / 60
        total = tune + table
        print(f"{name:<14}{tune:>10.1f}{table:>11.1f}{total:>8.1f}{args.budget_minutes:>8.0f}"
              f"{total / args.budget_minutes:>7.2f}{trial_count(os.path.join(folder, 'tune')):>13}"
              f"{trial_count(os.path.join(folder, 'table')):>14}")


if __name__ == "__main__":
    main()
