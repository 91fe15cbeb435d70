"""Population-based training's own cost: the ``kd_pbt`` smoke sweep (synchronous PBT, 4
trials x 6 epochs, exploits every 2) against the same sweep with each trial's values fixed
(``sampler: random`` over the same ranges, the same trials and epochs), both as fresh
``python -m platform.sweep`` processes on this machine. Prints both wall times and the ratio;
the trials' training is the same work, so the ratio is what pausing at each interval,
cloning checkpoints and restarting trials costs.

    python benchmarks/pbt_overhead.py [--repeats 1]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(sweep: str, storage: str) -> float:
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "platform.sweep", sweep, "--preset", "smoke", "--storage", storage],
                         cwd=REPO, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"{sweep} failed:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    work = tempfile.mkdtemp()
    with open(os.path.join(REPO, "search_spaces", "kd_pbt.yaml")) as fh:
        fixed = yaml.safe_load(fh)
    fixed.pop("pbt")
    fixed["sampler"] = "random"
    fixed_path = os.path.join(work, "kd_fixed.yaml")
    with open(fixed_path, "w") as fh:
        yaml.safe_dump(fixed, fh)
    # one teacher for both: the first run trains it into the shared store
    storage = os.path.join(work, "exp")
    timed("kd_pbt", storage)
    pbt, plain = [], []
    for _ in range(args.repeats):
        plain.append(timed(fixed_path, storage))
        pbt.append(timed("kd_pbt", storage))
    pbt_s, plain_s = min(pbt), min(plain)
    print(f"fixed values (sampler random): {plain_s:.1f} s")
    print(f"PBT (kd_pbt smoke)           : {pbt_s:.1f} s")
    print(f"ratio PBT/fixed: {pbt_s / plain_s:.2f}x")


if __name__ == "__main__":
    main()
