"""A sweep's local Ray: start and shutdown through ``platform.ray_session`` against Ray's own
``ray.init(address="local")`` / ``ray.shutdown()`` with the same settings, each in a fresh
process, alternating, so that a busy spell falls on both alike.

    python benchmarks/ray_start.py [--runs 6]

Prints the median seconds of each side's ``ray.init`` and ``ray.shutdown`` (one CPU, a first
task run in between) and the ratio of the medians."""
import argparse
import json
import os
import statistics
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TIMED = r'''
import json, os, sys, time
from platform.ray_session import connect, disconnect, driver_environment
driver_environment()
import ray
start = time.perf_counter()
if sys.argv[1] == "platform":
    connect(num_cpus=1)
else:
    ray.init(address="local", num_cpus=1, dashboard_host="127.0.0.1", include_dashboard=False,
             log_to_driver=True, configure_logging=True, logging_level="warning")
started = time.perf_counter() - start
@ray.remote
def one():
    return 1
assert ray.get(one.remote()) == 1
start = time.perf_counter()
if sys.argv[1] == "platform":
    disconnect()
else:
    ray.shutdown()
print("BENCHMARK_JSON " + json.dumps({"init": started, "shutdown": time.perf_counter() - start}))
'''


def run(side: str) -> dict:
    done = subprocess.run([sys.executable, "-c", TIMED, side], cwd=REPO, capture_output=True, text=True, timeout=300)
    lines = [line for line in done.stdout.splitlines() if line.startswith("BENCHMARK_JSON ")]
    if done.returncode != 0 or not lines:
        sys.exit(f"{side} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return json.loads(lines[-1][len("BENCHMARK_JSON "):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=6, help="runs of each side (default 6)")
    args = parser.parse_args()
    sides = {"ray": [], "platform": []}
    for r in range(args.runs):
        for side in (("ray", "platform") if r % 2 == 0 else ("platform", "ray")):
            sides[side].append(run(side))
    medians = {side: {k: statistics.median(run[k] for run in runs) for k in ("init", "shutdown")}
               for side, runs in sides.items()}
    for side, label in (("ray", "Ray's own local start (reference)"), ("platform", "the sweep's local Ray")):
        print(f"{label:36s} ray.init {medians[side]['init']:.2f} s, shutdown {medians[side]['shutdown']:.2f} s "
              f"(medians of {args.runs})")
    print(f"ratio platform/reference: init {medians['platform']['init'] / medians['ray']['init']:.2f}x, "
          f"shutdown {medians['platform']['shutdown'] / medians['ray']['shutdown']:.2f}x")


if __name__ == "__main__":
    main()
