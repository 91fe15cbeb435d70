"""The extra cost of TADML over DML: images/s of the engine's TADML step
(discriminators, their Adam update, topology loss on the embeddings) against
its DML step, same networks and data, in this process, alternating rounds.

    python benchmarks/tadml_step.py [--arch resnet32] [--rounds 6] [--steps 3] [--set method.disc_input=conv4]
"""
import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from step_throughput import EngineDML, alternating_medians, synthetic_cifar  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", default="resnet32")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override of the TADML side, e.g. method.topology_neighbourhood=knn")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = synthetic_cifar(4096, 0)
    sides = {
        "dml": EngineDML(data, args.arch, args.batch_size, args.threads, 0),
        "tadml": EngineDML(data, args.arch, args.batch_size, args.threads, 0, ["method.name=tadml", *args.set]),
    }
    medians = alternating_medians(sides, args.rounds, args.steps)
    rate = {name: args.batch_size / median for name, median in medians.items()}
    for name, value in rate.items():
        print(f"{name}: {value:.1f} img/s (median of {args.rounds * args.steps} steps, 2 x {args.arch}, "
              f"batch {args.batch_size})")
    print(f"ratio tadml/dml: {rate['tadml'] / rate['dml']:.2f}x")


if __name__ == "__main__":
    main()
