"""``celeba64_smoke``: a small generated folder in CelebA's exact published layout
(``img_align_celeba/`` of 178x218 JPEGs, ``list_attr_celeba.txt`` with the 40
attribute names and -1/1 values separated by one or two spaces,
``list_eval_partition.txt``), written deterministically when absent and then read
by the real loader (``celeba.py``) at 64x64, so a smoke run exercises the whole
CelebA path in seconds.

600 images: 400 train, 100 validation, 100 test, in contiguous partitions as on
the real file. Each is a face (an ellipse with eyes and a mouth) on a background
of its own colour with pixel noise. Attractive is +1 on exactly half of every
partition and brightens the face, so the default task (the most balanced
attribute: Attractive, as on the real file, since every other attribute is kept
off one half) is learnable; Smiling opens the mouth and Eyeglasses draws a bar
across the eyes, so ``data.attribute`` has learnable alternatives. The other
attributes follow CelebA's published rates and are not drawn. Rows 0:20 and
198:218, which the crop removes, are solid bands, so a test can tell it was made.

The folder is ``<data.root>/CelebA`` when data.root is given, else
``$XDG_CACHE_HOME/distill/celeba_smoke_v1/CelebA`` (``~/.cache``). It is built in
a temporary folder and renamed into place, so concurrent trials see either
nothing or the whole set."""
import os
from typing import Sequence

import numpy as np

from distill.data.celeba import ATTR_FILE, ATTRIBUTES, FOLDER, IMAGES, PARTITION_FILE, Layout, register
from distill.data.generated_folder import write_once

VERSION = "celeba_smoke_v1"   # bump when the generator changes: the default folder is per version
COUNTS = (400, 100, 100)      # train, validation, test
SEED = 2015
WIDTH, HEIGHT = 178, 218
BAND = 20                     # rows above and below the reference's crop (20:198)
# fractions of +1 on the real attribute file (Liu et al. 2015), so the generated columns look like it
RATES = dict(zip(ATTRIBUTES, (
    0.111, 0.267, 0.513, 0.205, 0.022, 0.152, 0.241, 0.235, 0.239, 0.148, 0.051, 0.205, 0.142, 0.058, 0.047, 0.065,
    0.063, 0.042, 0.387, 0.455, 0.417, 0.483, 0.042, 0.115, 0.835, 0.284, 0.043, 0.277, 0.080, 0.066, 0.057, 0.482,
    0.208, 0.320, 0.189, 0.048, 0.472, 0.123, 0.073, 0.774)))


def default_root() -> str:
    user = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(user, "distill", VERSION)


def attribute_table(counts: Sequence[int], rng: np.random.RandomState) -> np.ndarray:
    """(N, 40) bool: Attractive on half of every partition, every other attribute at its real rate
    but never on exactly half of all images, so Attractive is the most balanced."""
    total = sum(counts)
    table = np.zeros((total, len(ATTRIBUTES)), bool)
    start = 0
    for count in counts:
        table[start + rng.permutation(count)[:count // 2], ATTRIBUTES.index("Attractive")] = True
        start += count
    gap = abs(table[:, ATTRIBUTES.index("Attractive")].sum() - total / 2)
    for j, name in enumerate(ATTRIBUTES):
        if name == "Attractive":
            continue
        on = int(round(RATES[name] * total))
        if abs(on - total / 2) <= gap:   # pushed off the balance, to the side of its real rate
            on = int(np.floor(total / 2 - gap - 1)) if RATES[name] < 0.5 else int(np.ceil(total / 2 + gap + 1))
        table[rng.permutation(total)[:on], j] = True
    return table


def render(attrs: dict, rng: np.random.RandomState) -> np.ndarray:
    """One 218x178 RGB face; ``attrs`` maps an attribute name to True when it is +1."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    image = np.empty((HEIGHT, WIDTH, 3), np.float64)
    image[:] = rng.randint(60, 200, 3)
    cx, cy = WIDTH / 2 + rng.uniform(-4, 4), HEIGHT / 2 + rng.uniform(-4, 4)
    face = ((x - cx) / 50) ** 2 + ((y - cy) / 65) ** 2 <= 1
    tone = rng.uniform(100, 160) + (60 if attrs["Attractive"] else 0)
    image[face] = tone * np.array([1.0, 0.8, 0.7])
    for side in (-1, 1):
        image[(x - cx - side * 20) ** 2 + (y - cy + 15) ** 2 <= 36] = 30
    if attrs["Eyeglasses"]:
        image[(abs(y - (cy - 15)) <= 4) & (abs(x - cx) <= 34)] = 10
    mouth_height = 8 if attrs["Smiling"] else 2
    image[(abs(y - (cy + 35)) <= mouth_height) & (abs(x - cx) <= 16)] = (120, 20, 30)
    image += rng.normal(0, 8, image.shape)
    image[:BAND] = (255, 0, 255)
    image[HEIGHT - BAND:] = (0, 255, 0)
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def write_celeba(folder: str, counts: Sequence[int] = COUNTS, seed: int = SEED) -> None:
    """Write the CelebA layout into ``folder`` (created): ``counts`` images of partitions 0, 1, 2.
    Same files, same bytes, every time."""
    from PIL import Image

    rng = np.random.RandomState(seed)
    table = attribute_table(counts, rng)
    names = [f"{i + 1:06d}.jpg" for i in range(len(table))]
    os.makedirs(os.path.join(folder, IMAGES), exist_ok=True)
    for name, row in zip(names, table):
        pixels = render(dict(zip(ATTRIBUTES, row)), rng)
        Image.fromarray(pixels).save(os.path.join(folder, IMAGES, name), quality=90)
    with open(os.path.join(folder, ATTR_FILE), "w") as fh:
        fh.write(f"{len(names)}\n" + " ".join(ATTRIBUTES) + " \n")
        for name, row in zip(names, table):
            # the real file's spacing: each value right-aligned in two characters after a space
            fh.write(name + "".join(f" {1 if v else -1:2d}" for v in row) + "\n")
    partitions = np.repeat(np.arange(len(counts)), counts)
    with open(os.path.join(folder, PARTITION_FILE), "w") as fh:
        fh.write("".join(f"{name} {p}\n" for name, p in zip(names, partitions)))


def _complete(folder: str) -> bool:
    return os.path.isdir(os.path.join(folder, IMAGES)) and all(
        os.path.isfile(os.path.join(folder, f)) for f in (ATTR_FILE, PARTITION_FILE))


def smoke_folder(root) -> str:
    """The smoke set's ``CelebA`` folder, written first when absent."""
    folder = os.path.join(os.path.abspath(root or default_root()), FOLDER)
    return write_once(folder, "celeba64_smoke", VERSION, lambda tmp: write_celeba(tmp, COUNTS, SEED), _complete,
                      "the CelebA layout", f"an absent or empty {FOLDER}/ under data.root (or, without one, "
                                           f"{default_root()})")


register(Layout("celeba64_smoke", 64), folder_of=smoke_folder)
