"""How fast the ImageNet input pipeline feeds a trial (``distill/data/file_batches.py``).

    python benchmarks/imagenet_pipeline.py [--images 384] [--batch 64] [--gpu-rate 7400]

On a generated folder of real JPEGs at ImageNet's typical size (500x375, quality 90), the
training transforms (random-resized crop 224, flip) through the DataLoader path a trial
uses, ``data.decode: cpu``:
- with 1 loader worker: images/s per CPU core (one process decodes; the consumer only waits);
- with one worker per core: images/s of the machine, and its ratio to the 1-worker rate;
- a reference in the same process: the same decode and crops in a plain loop (no DataLoader),
  so the ratio pipeline / plain shows what the DataLoader costs.
With CUDA, also ``data.decode: device`` (file bytes from the workers, nvJPEG batch decode
and the crops on the GPU); without, one line says it was skipped.

``--gpu-rate``: the images/s one GPU trains ResNet-18 at, for the cores-per-GPU figure
(default 7,400: an A100's ResNet-18 CIFAR rate in the speed anchors, 24k img/s at 0.56
GFLOP a forward pass, scaled to ImageNet ResNet-18's 1.82 GFLOP; a derived upper bound)."""
import argparse
import os
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from distill.data.file_batches import PlanReader, _loader, _on_device  # noqa: E402
from distill.data.image_files import ImageFiles, decode, plan_batch, read_bytes, transform  # noqa: E402

WIDTH, HEIGHT = 500, 375


def write_folder(folder: str, count: int) -> ImageFiles:
    """``count`` JPEGs with photo-like content (smooth colour fields, edges, noise)."""
    from torchvision.io import encode_jpeg, write_file

    rng = np.random.RandomState(0)
    os.makedirs(os.path.join(folder, "train", "n00000001"))
    paths = []
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    for i in range(count):
        base = rng.uniform(0, 255, 3)
        image = base + 60 * np.sin(xx[..., None] / rng.uniform(8, 60) + rng.uniform(0, 6, 3)) \
            + 40 * np.cos(yy[..., None] / rng.uniform(8, 60)) + rng.normal(0, 10, (HEIGHT, WIDTH, 3))
        pixels = torch.from_numpy(np.clip(image, 0, 255).astype(np.uint8)).permute(2, 0, 1).contiguous()
        path = os.path.join(folder, "train", "n00000001", f"{i:06d}.JPEG")
        write_file(path, encode_jpeg(pixels, quality=90))
        paths.append(path)
    return ImageFiles(tuple(paths), torch.zeros(count, dtype=torch.int64), 224, 256)


def plans_for(files: ImageFiles, batch: int, seed: int = 0):
    order = list(range(len(files)))
    return [plan_batch(order[i:i + batch], seed + i, 1, True) for i in range(0, len(order) - batch + 1, batch)]


def rate_pipeline(files: ImageFiles, batch: int, workers: int, device: torch.device, on_device: bool) -> float:
    plans = plans_for(files, batch)
    loader = _loader(PlanReader(files, on_device, 1), plans, workers, device)
    start, images = None, 0
    for n, (plan, out) in enumerate(zip(plans, loader)):
        views = _on_device(out, files, plan, 1, device, on_device)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if n == 0:   # the workers' start is not the pipeline's rate
            start = time.perf_counter()
            continue
        images += views[0].shape[0]
    return images / (time.perf_counter() - start)


def rate_plain(files: ImageFiles, batch: int) -> float:
    plans = plans_for(files, batch)
    start = time.perf_counter()
    for plan in plans:
        images = decode([read_bytes(files.paths[i]) for i in plan.index], torch.device("cpu"))
        transform(images, files, plan, 0)
    return sum(len(p.index) for p in plans) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=384)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--gpu-rate", type=float, default=7400.0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as folder:
        files = write_folder(folder, args.images)
        size = sum(os.path.getsize(p) for p in files.paths) / len(files.paths) / 1024
        print(f"{args.images} JPEGs of {WIDTH}x{HEIGHT} ({size:.0f} KiB on average), batches of {args.batch}, "
              f"random-resized crop 224 + flip; {cores} CPU cores")
        plain = rate_plain(files, args.batch)
        one = rate_pipeline(files, args.batch, 1, torch.device("cpu"), on_device=False)
        every = rate_pipeline(files, args.batch, cores, torch.device("cpu"), on_device=False)
        print(f"plain loop, 1 process (reference): {plain:.0f} images/s")
        print(f"cpu decode, 1 loader worker: {one:.0f} images/s per CPU core "
              f"(ratio to the plain loop {one / plain:.2f})")
        print(f"cpu decode, {cores} loader workers: {every:.0f} images/s ({every / one:.2f}x one worker)")
        print(f"cores per GPU to feed ResNet-18 at {args.gpu_rate:.0f} images/s: {args.gpu_rate / one:.0f}")
        if torch.cuda.is_available():
            gpu = rate_pipeline(files, args.batch, 1, torch.device("cuda"), on_device=True)
            print(f"device decode (nvJPEG, crops on {torch.cuda.get_device_name()}), 1 loader worker reading "
                  f"files: {gpu:.0f} images/s")
        else:
            print("device decode: skipped, no CUDA device on this machine")


if __name__ == "__main__":
    main()
