"""Step time of each self-distillation method against plain cross-entropy
training of the same network, same data and batch, in this process, in
alternating rounds (medians of steps). Targets on CPU: BYOT, SCD, SAD within
1.35x (exit heads are small); CS-KD and DDGSD pay one more forward by design:
within 1.9x. ONE's extra branches (m - 1 copies of the last stage) have no target.
DDGSD trains both views (2B images, forward and backward), so it is also timed
against plain CE on 2B images: that ratio is its overhead beyond the extra images.

    python benchmarks/self_distill_step.py [--arch resnet18] [--batch-size 32] [--rounds 3] [--steps 2]
"""
import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from step_throughput import EngineDML, alternating_medians, synthetic_cifar  # noqa: E402

TARGETS = {"byot": 1.35, "scd": 1.35, "sad": 1.35, "cs_kd": 1.9, "ddgsd": 1.9, "one": None}
# timed with their transfer on: SAD from the first epoch, ONE's ramp at full weight
PARAMS = {"sad": {"start_fraction": 0.0}, "one": {"rampup_epochs": 0}}
IMAGES_PER_SAMPLE = {"ddgsd": 2}   # views trained per batch sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", default="resnet18")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--methods", default=",".join(TARGETS))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = synthetic_cifar(1024, 0)

    def side(method, batch_size=args.batch_size):
        overrides = [("method", {"name": method, **PARAMS.get(method, {})}),
                     ("networks", [{"name": "net0", "arch": args.arch}])]
        return EngineDML(data, args.arch, batch_size, args.threads, 0, overrides)

    print(f"{args.arch}, batch {args.batch_size}, {args.threads} threads, {args.rounds} rounds x {args.steps} steps")
    for method in [m for m in args.methods.split(",") if m]:
        sides = {"ce": side("independent"), method: side(method)}
        views = IMAGES_PER_SAMPLE.get(method, 1)
        if views > 1:
            sides["ce_same_images"] = side("independent", views * args.batch_size)
        medians = alternating_medians(sides, args.rounds, args.steps)
        ratio = medians[method] / medians["ce"]
        target = TARGETS.get(method)
        verdict = "no target" if target is None else "ok" if ratio <= target else "MISSED"
        same = ""
        if views > 1:
            same = (f"; {medians[method] / medians['ce_same_images']:.2f}x "
                    f"plain CE on the same {views * args.batch_size} images")
        print(f"{method:6s} {ratio:.2f}x plain CE's step time ({medians['ce']:.3f} s)  "
              f"target {target}x  {verdict}{same}", flush=True)


if __name__ == "__main__":
    main()
