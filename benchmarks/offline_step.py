"""Step time of each offline-teacher method against KD's, same teacher, student,
data and batch, in this process, in alternating rounds (medians of steps).
Targets on CPU: AT, SP, FitNet, SNN-MIMIC within 1.15x of KD; the adversarial
ones (ANC, TSANC, KSANC, HKSANC) within 1.3x; gradient-based AT (``at_grad``: the
teacher's backward to its input and the student's double backward) within 3x.

    python benchmarks/offline_step.py [--teacher resnet164] [--student resnet20] [--rounds 4] [--steps 3]
"""
import argparse
import os
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from step_throughput import NUM_CLASSES, EngineDML, alternating_medians, synthetic_cifar  # noqa: E402

from distill.config import parse_override  # noqa: E402
from distill.models import build_model  # noqa: E402

TARGETS = {"at": 1.15, "sp": 1.15, "fitnet": 1.15, "snn_mimic": 1.15, "fsp": 1.3,
           "anc": 1.3, "tsanc": 1.3, "ksanc": 1.3, "hksanc": 1.3, "at_grad": 3.0}
# methods with a first stage are timed in the stage where their transfer term is on
STAGE = {"fitnet": ["method.schedule=one_stage"], "fsp": ["method.init_fraction=1.0"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--teacher", default="resnet164")
    parser.add_argument("--student", default="resnet20")
    parser.add_argument("--fsp-teacher", default="resnet110", help="FSP needs the student's stage channels")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--methods", default=",".join(TARGETS))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    folder = tempfile.mkdtemp(prefix="offline_step_")
    teachers = {}
    for arch in {args.teacher, args.fsp_teacher}:
        teachers[arch] = os.path.join(folder, f"{arch}.pt")
        torch.save(build_model(arch, NUM_CLASSES).state_dict(), teachers[arch])
    data = synthetic_cifar(2048, 0)

    def side(method, teacher_arch, extra=()):
        overrides = [("method", {"name": method}), ("networks", [{"name": "student", "arch": args.student}]),
                     ("teacher", {"name": "teacher", "arch": teacher_arch, "checkpoint": teachers[teacher_arch]}),
                     *[parse_override(e) for e in extra]]
        return EngineDML(data, args.student, args.batch_size, args.threads, 0, overrides)

    methods = [m for m in args.methods.split(",") if m]
    print(f"teacher {args.teacher} -> student {args.student}, batch {args.batch_size}, {args.threads} threads")
    for method in methods:
        teacher = args.fsp_teacher if method == "fsp" else args.teacher
        sides = {"kd": side("kd", teacher), method: side(method, teacher, STAGE.get(method, []))}
        medians = alternating_medians(sides, args.rounds, args.steps)
        ratio = medians[method] / medians["kd"]
        verdict = "ok" if ratio <= TARGETS.get(method, float("inf")) else "MISSED"
        teacher_note = f" (teacher {teacher})" if teacher != args.teacher else ""
        print(f"{method:10s} {ratio:.2f}x KD's step time{teacher_note}  target {TARGETS.get(method)}x  {verdict}",
              flush=True)


if __name__ == "__main__":
    main()
