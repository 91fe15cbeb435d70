"""Images/s of the engine's DML training step against a naive reference loop.

    python benchmarks/step_throughput.py [--steps N] [--rounds R] [--batch-size B] [--arch resnet32]
                                        [--set KEY=VALUE] [--quick]
    python benchmarks/step_throughput.py --conv-rates    the 3x3 convolutions' own rate per stage width

Both sides train two peers (``--arch``, default ResNet-32) with deep mutual learning
(each peer: cross-entropy + KL to the detached other peer; one SGD optimizer per
network) on the same synthetic CIFAR-shaped data (uint8 3x32x32, 10 classes), in this
process, with ``torch.set_num_threads(2)`` (``--threads``), on the CPU.

- reference: a textbook loop. A ``Dataset`` of PIL images with per-image torchvision
  transforms (RandomCrop(32, padding=4), RandomHorizontalFlip, ToTensor, Normalize), a
  ``DataLoader`` (num_workers=0, shuffle, drop_last), NCHW float32 models.
- engine: the real ``distill.trainer.Trainer`` built from an ``ExperimentConfig``
  (method dml, two networks) over a synthetic data set registered here under
  ``synthetic_cifar``; timed over ``Trainer.train_step`` on batches drawn from
  ``trainer.train_batches``. Batch creation and augmentation are inside the timing,
  as the reference's DataLoader is.

Process-wide torch settings: the engine runs under what its Trainer configured (threads,
``torch.use_deterministic_algorithms(True)`` by default); the reference under torch's
defaults (deterministic algorithms off), as a stand-alone script would. Both use the same
number of intra-op threads.

Timing: the two sides alternate for ``--rounds`` rounds of ``--steps`` steps each (the
order flips every round) after untimed warm-up steps, so drift in machine load hits both
alike; no new round starts after ``--max-seconds``. Every step is timed on its own, and
the CPU time that *other* processes used during it is read from /proc/stat: on a shared
box a neighbour stealing one of the two cores stalls every OpenMP barrier and can make a
step 10x slower. A side's images/s is batch size / median time of its uncontended steps
(other processes under ``--max-others`` cores; all steps if fewer than a quarter are
uncontended, which the output says). The best step and the plain mean are printed too.
The last line printed is ``ratio engine/reference: X.XXx``, the ratio of the two images/s.

``--conv-rates`` times one 3x3 convolution of each stage of a CIFAR ResNet (16, 32 and 64
channels at 32, 16 and 8 pixels, batch ``--batch-size``) forward and backward, channels-last
and NCHW, and prints GFLOP/s: where a step's time goes once the engine adds nothing (the
convolutions are most of it, and the narrow ones run at a fraction of the wide ones' rate).

Engine overrides for experiments: ``--set train.amp=bf16``, ``--set train.channels_last=false``,
``--set train.deterministic=false``.
"""
import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torch.utils.deterministic  # noqa: F401  (fill_uninitialized_memory)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from distill.config import config_from_dict  # noqa: E402
from distill.data import DATA_INFO, DATASETS, DataInfo, ImageSet  # noqa: E402
from distill.models import build_model  # noqa: E402

DATASET_NAME = "synthetic_cifar"
NUM_CLASSES = 10
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


def synthetic_cifar(n: int, seed: int) -> ImageSet:
    gen = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=gen)
    labels = torch.randint(0, NUM_CLASSES, (n,), dtype=torch.int64, generator=gen)
    return ImageSet(images, labels)


# --------------------------------------------------------------------------- reference
class PILImages(torch.utils.data.Dataset):
    """The classic CIFAR pipeline: images stored as PIL, transformed one at a time."""

    def __init__(self, data: ImageSet, transform):
        from PIL import Image

        hwc = data.images.permute(0, 2, 3, 1).contiguous().numpy()
        self.images = [Image.fromarray(np.ascontiguousarray(img)) for img in hwc]
        self.labels = data.labels.tolist()
        self.transform = transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.transform(self.images[i]), self.labels[i]


class ReferenceDML:
    def __init__(self, data: ImageSet, arch: str, batch_size: int, seed: int):
        from torchvision import transforms

        transform = transforms.Compose([
            transforms.RandomCrop(32, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(CIFAR_MEAN, CIFAR_STD),
        ])
        torch.manual_seed(seed)
        self.loader = torch.utils.data.DataLoader(PILImages(data, transform), batch_size=batch_size,
                                                  shuffle=True, drop_last=True, num_workers=0)
        self.nets = [build_model(arch, NUM_CLASSES, 3) for _ in range(2)]
        self.optimizers = [torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
                           for net in self.nets]
        self.batches = self._forever()
        self.batch_size = batch_size

    def _forever(self):
        while True:
            yield from self.loader

    def step(self):
        images, labels = next(self.batches)
        for net in self.nets:
            net.train()
        logits = [net(images) for net in self.nets]
        total = 0.0
        for i, own in enumerate(logits):
            peer = logits[1 - i].detach()
            ce = F.cross_entropy(own, labels)
            kl = F.kl_div(F.log_softmax(own, 1), F.log_softmax(peer, 1), reduction="batchmean", log_target=True)
            total = total + ce + kl
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=True)
        total.backward()
        for opt in self.optimizers:
            opt.step()
        return total.detach()


# --------------------------------------------------------------------------- engine
_SYNTHETIC = {}


def _load_synthetic(root):
    """The engine's data-set loader contract: (train, test, meta); the Trainer holds out val itself."""
    return _SYNTHETIC["train"], _SYNTHETIC["test"], {"num_classes": NUM_CLASSES, "crop_padding": 4, "flip": True}


class EngineDML:
    def __init__(self, data: ImageSet, arch: str, batch_size: int, threads: int, seed: int, overrides=()):
        from distill.config import apply_overrides
        from distill.trainer import Trainer

        _SYNTHETIC["train"], _SYNTHETIC["test"] = data, synthetic_cifar(512, seed + 1)
        if DATASET_NAME not in DATASETS:
            DATASETS.register(DATASET_NAME)(_load_synthetic)
            DATA_INFO.register(DATASET_NAME)(DataInfo(NUM_CLASSES, 3, (32, 32)))
        config = config_from_dict(apply_overrides({
            "method": {"name": "dml", "temperature": 1.0},
            "networks": [{"name": "net0", "arch": arch}, {"name": "net1", "arch": arch}],
            "data": {"name": DATASET_NAME, "batch_size": batch_size},
            "optim": {"lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4, "schedule": "cosine"},
            "train": {"epochs": 1, "device": "cpu", "threads": threads},
            "seed": seed,
            "output_dir": "/tmp/step_throughput_unused",   # never written: only train_step runs
        }, overrides))
        self.trainer = Trainer(config)
        for net in self.trainer.networks.values():
            net.train()
        self.trainer.method.train()
        self.batches = self._forever()
        self.batch_size = self.trainer.train_batches.batch_size

    def _forever(self):
        while True:
            yield from self.trainer.train_batches

    def step(self):
        return self.trainer.train_step(next(self.batches))["total"]


# --------------------------------------------------------------------------- convolutions alone
def conv_rates(batch: int, repeats: int = 10) -> None:
    """GFLOP/s of one 3x3 convolution per CIFAR ResNet stage width, forward and backward."""
    print(f"3x3 convolution, batch {batch}, {torch.get_num_threads()} threads: GFLOP/s (multiply-adds x 2)")
    for channels, pixels in ((16, 32), (32, 16), (64, 8)):
        flops = 2 * batch * pixels * pixels * channels * channels * 9
        rates = []
        for layout in (torch.channels_last, torch.contiguous_format):
            x = torch.randn(batch, channels, pixels, pixels).contiguous(memory_format=layout).requires_grad_()
            w = torch.randn(channels, channels, 3, 3).contiguous(memory_format=layout).requires_grad_()
            grad = torch.randn(batch, channels, pixels, pixels).contiguous(memory_format=layout)

            def forward():
                return F.conv2d(x, w, padding=1)

            def backward():   # input and weight gradients: twice the forward's arithmetic
                torch.autograd.grad(F.conv2d(x, w, padding=1), (x, w), grad)

            for fn, work in ((forward, flops), (backward, 3 * flops)):
                fn()
                start = time.perf_counter()
                for _ in range(repeats):
                    fn()
                rates.append(work * repeats / (time.perf_counter() - start) / 1e9)
        print(f"  {channels:2d} channels at {pixels:2d}x{pixels:<2d}: channels-last forward {rates[0]:6.1f}, "
              f"forward+backward {rates[1]:6.1f}; NCHW forward {rates[2]:6.1f}, forward+backward {rates[3]:6.1f}")


# --------------------------------------------------------------------------- timing
def alternating_medians(sides: dict, rounds: int, steps: int) -> dict:
    """Median step time of each side, after one warm-up step each, in rounds whose order
    alternates (a slow spell of the machine then falls on every side alike)."""
    walls = {name: [] for name in sides}
    for side in sides.values():
        side.step()
    for r in range(rounds):
        for name in (list(sides) if r % 2 == 0 else list(sides)[::-1]):
            for _ in range(steps):
                start = time.perf_counter()
                float(sides[name].step())
                walls[name].append(time.perf_counter() - start)
    return {name: statistics.median(w) for name, w in walls.items()}


class CpuMeter:
    """CPU seconds used by *other* processes during an interval (Linux /proc/stat minus this
    process's own CPU time), so steps slowed by a neighbour on a shared box can be told apart."""

    HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def snapshot(self):
        try:
            with open("/proc/stat") as fh:
                ticks = [int(v) for v in fh.readline().split()[1:]]
            busy = (sum(ticks) - ticks[3] - ticks[4]) / self.HZ   # minus idle and iowait
        except (OSError, ValueError, IndexError):
            busy = None
        own = os.times()
        return busy, own.user + own.system

    def others(self, before, after) -> float:
        if before[0] is None or after[0] is None:
            return 0.0
        return max(0.0, (after[0] - before[0]) - (after[1] - before[1]))


class Side:
    """One contestant plus the process-wide torch settings it runs under."""

    def __init__(self, name, runner, deterministic: bool, fill_uninitialized: bool):
        self.name, self.runner = name, runner
        self.deterministic, self.fill_uninitialized = deterministic, fill_uninitialized
        self.walls, self.others = [], []

    def activate(self):
        torch.use_deterministic_algorithms(self.deterministic, warn_only=True)
        torch.utils.deterministic.fill_uninitialized_memory = self.fill_uninitialized

    def run(self, steps: int, meter: CpuMeter, record: bool = True) -> None:
        self.activate()
        for _ in range(steps):
            before = meter.snapshot()
            start = time.perf_counter()
            loss = self.runner.step()
            float(loss)  # results are ready (a no-op on the CPU, a sync elsewhere)
            wall = time.perf_counter() - start
            if record:
                self.walls.append(wall)
                self.others.append(meter.others(before, meter.snapshot()) / wall)

    def clean_walls(self, max_others: float):
        return [w for w, o in zip(self.walls, self.others) if o <= max_others]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=4, help="timed steps per side per round (default 4)")
    parser.add_argument("--rounds", type=int, default=16, help="alternating rounds (default 16)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per side first (default 3)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--arch", default="resnet32")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--train-size", type=int, default=4096, help="synthetic training images (default 4096)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=180.0,
                        help="start no new round after this many seconds of timing (default 180; >= 2 rounds run)")
    parser.add_argument("--max-others", type=float, default=0.15,
                        help="a step counts as clean when other processes used at most this many cores "
                             "during it (default 0.15)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override of the engine's config, e.g. train.amp=bf16 (repeatable; default none)")
    parser.add_argument("--quick", action="store_true", help="short run: 2 rounds x 2 steps, 1 warm-up step")
    parser.add_argument("--conv-rates", action="store_true",
                        help="only the 3x3 convolutions' GFLOP/s per stage width, channels-last and NCHW")
    args = parser.parse_args(argv)
    if args.conv_rates:
        torch.set_num_threads(args.threads)
        conv_rates(args.batch_size)
        return
    if args.quick:
        args.steps, args.rounds, args.warmup = 2, 2, 1

    torch.set_num_threads(args.threads)
    data = synthetic_cifar(args.train_size, args.seed)
    engine = EngineDML(data, args.arch, args.batch_size, args.threads, args.seed, args.set)
    # the engine's Trainer applied its config (threads, deterministic mode); the reference runs
    # under torch's defaults, as a stand-alone script would
    engine_side = Side("engine", engine, torch.are_deterministic_algorithms_enabled(),
                       torch.utils.deterministic.fill_uninitialized_memory)
    torch.set_num_threads(args.threads)
    reference = ReferenceDML(data, args.arch, args.batch_size, args.seed)
    sides = [Side("reference", reference, False, True), engine_side]
    batch = {s.name: s.runner.batch_size for s in sides}
    meter = CpuMeter()
    print(f"DML step, 2 x {args.arch}, batch {args.batch_size}, {torch.get_num_threads()} threads, "
          f"up to {args.rounds} rounds x {args.steps} steps per side (+{args.warmup} warm-up); "
          f"engine deterministic={engine_side.deterministic}"
          + (f", engine overrides {' '.join(args.set)}" if args.set else ""), flush=True)

    for side in sides:
        side.run(args.warmup, meter, record=False)
    begin = time.perf_counter()
    for r in range(args.rounds):
        if r >= 2 and time.perf_counter() - begin > args.max_seconds:
            print(f"time budget reached after {r} rounds", flush=True)
            break
        for side in (sides if r % 2 == 0 else sides[::-1]):
            side.run(args.steps, meter)
        per_round = "  ".join(
            f"{s.name} {batch[s.name] * args.steps / sum(s.walls[-args.steps:]):6.1f}" for s in sides)
        busy = max(max(s.others[-args.steps:]) for s in sides)
        print(f"round {r + 1}: img/s  {per_round}   (other processes: up to {busy:.2f} cores)", flush=True)

    rate = {}
    for side in sides:
        clean = side.clean_walls(args.max_others)
        use = clean if len(clean) >= max(2, len(side.walls) // 4) else side.walls
        rate[side.name] = batch[side.name] / statistics.median(use)
        mean = batch[side.name] * len(side.walls) / sum(side.walls)
        print(f"{side.name}: {rate[side.name]:.1f} img/s (median step over {len(use)} "
              f"{'uncontended' if use is clean else 'all (too few uncontended)'} of {len(side.walls)} steps; "
              f"best step {batch[side.name] / min(side.walls):.1f}, mean over all {mean:.1f})")
    print(f"ratio engine/reference: {rate['engine'] / rate['reference']:.2f}x")


if __name__ == "__main__":
    main()
