"""Seconds to rank and score the full Market-1501 test split: 3,368 queries x 19,732 gallery
images of 1024-d features (751 ids over 6 cameras, plus distractors and junk), synthetic
features clustered by id so that scores are neither 0 nor 100. Target: under 20 s on 2 CPU
cores (the evaluation of one network at the end of a re-id run; concat doubles the width).

    python benchmarks/reid_eval.py [--threads 2] [--device cpu] [--dim 1024] [--repeats 1]"""
import argparse
import time

import torch

from distill.evaluators.ranking import retrieval_metrics

QUERIES, GALLERY, IDS, CAMERAS = 3368, 19732, 751, 6
DISTRACTORS, JUNK = 2798, 3819     # about bounding_box_test's shares of ids 0000 and -1
TARGET_SECONDS = 20.0


def synthetic_split(dim: int, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    centres = torch.randn(IDS + 1, dim, generator=gen)
    q_ids = torch.arange(QUERIES) % IDS + 1
    labelled = GALLERY - DISTRACTORS - JUNK
    g_ids = torch.cat([torch.arange(labelled) % IDS + 1, torch.zeros(DISTRACTORS, dtype=torch.long),
                       torch.full((JUNK,), -1)])
    q_cams = torch.randint(1, CAMERAS + 1, (QUERIES,), generator=gen)
    g_cams = torch.randint(1, CAMERAS + 1, (GALLERY,), generator=gen)
    # distractors and junk sit near random identities, as real ones look like people
    near = torch.where(g_ids > 0, g_ids, torch.randint(1, IDS + 1, (GALLERY,), generator=gen))
    query = centres[q_ids] + 2.5 * torch.randn(QUERIES, dim, generator=gen)
    gallery = centres[near] + 2.5 * torch.randn(GALLERY, dim, generator=gen)
    return query, q_ids, q_cams, gallery, g_ids, g_cams


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    split = [t.to(device) for t in synthetic_split(args.dim)]
    print(f"{QUERIES} queries x {GALLERY} gallery, {args.dim}-d, {args.threads} threads, {device}")
    for _ in range(args.repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        scores = retrieval_metrics(*split)
        seconds = time.perf_counter() - start   # retrieval_metrics ends in host values: synchronised
        print(f"scored in {seconds:.2f} s ({seconds / TARGET_SECONDS:.2f} of the {TARGET_SECONDS:.0f} s target): "
              + ", ".join(f"{k} {v:.2f}" for k, v in scores.items()))


if __name__ == "__main__":
    main()
