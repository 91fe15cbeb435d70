"""One DAFL iteration against one KD step with the same frozen teacher, student and
batch size, in this process, in alternating rounds (medians of steps). A DAFL
iteration generates the batch (the official generator: latent 1000, width 128 for
CIFAR), runs the teacher with autograd to the images, and backpropagates through the
teacher to the generator; a KD step reads a real batch and runs the teacher under
inference mode. Target on CPU: within 1.6x (the generator is small next to the
teacher's backward).

    python benchmarks/dafl_step.py [--teacher resnet34] [--student resnet18] [--batch-size 32] [--rounds 3] [--steps 2]
"""
import argparse
import os
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from step_throughput import NUM_CLASSES, EngineDML, alternating_medians, synthetic_cifar  # noqa: E402

TARGET = 1.6


def main() -> None:
    from distill.models import build_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--teacher", default="resnet34")
    parser.add_argument("--student", default="resnet18")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--latent-dim", type=int, default=1000)
    parser.add_argument("--generator-width", type=int, default=128)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = synthetic_cifar(1024, 0)
    with tempfile.TemporaryDirectory() as folder:
        # a random teacher times exactly as a trained one; its weights are never read for accuracy
        teacher_file = os.path.join(folder, "teacher.pt")
        torch.save(build_model(args.teacher, NUM_CLASSES, 3).state_dict(), teacher_file)
        common = [("networks", [{"name": "net0", "arch": args.student}]),
                  ("teacher", {"name": "teacher", "arch": args.teacher, "checkpoint": teacher_file})]
        sides = {
            "kd": EngineDML(data, args.student, args.batch_size, args.threads, 0,
                            common + [("method", {"name": "kd", "temperature": 1.0, "alpha": 1.0})]),
            "dafl": EngineDML(data, args.student, args.batch_size, args.threads, 0, common + [
                ("method", {"name": "dafl", "latent_dim": args.latent_dim, "generator_width": args.generator_width,
                            "iterations_per_epoch": 4})]),
        }
        print(f"teacher {args.teacher}, student {args.student}, batch {args.batch_size}, {args.threads} threads, "
              f"generator latent {args.latent_dim} width {args.generator_width}, "
              f"{args.rounds} rounds x {args.steps} steps")
        medians = alternating_medians(sides, args.rounds, args.steps)
    ratio = medians["dafl"] / medians["kd"]
    verdict = "ok" if ratio <= TARGET else "MISSED"
    print(f"dafl {ratio:.2f}x one KD step ({medians['kd']:.3f} s; DAFL {medians['dafl']:.3f} s)  "
          f"target {TARGET}x  {verdict}", flush=True)


if __name__ == "__main__":
    main()
