"""``market1501_smoke``: a small synthetic folder in the exact Market-1501
on-disk format and naming, written deterministically when absent and then read
by the same loader as the real set (``market1501.py``), so a sweep can exercise
the whole re-id path in seconds.

16 training identities and 8 test identities (disjoint, as in Market), each
seen by 2-6 of 6 cameras with a few 64x32 JPEGs per camera; the gallery also
holds junk (``-1``) and distractor (``0000``) images, and the folders a
``Thumbs.db``, as the real set ships. A person is drawn as head, striped top and
legs whose colours and stripe period depend on the identity; each camera adds
its own lighting (per-channel gain and cast) and background, each image a
small shift and pixel noise, so identities are learnable across cameras.

The folder is ``data.root`` when given (absent or empty: it is written there),
else ``$XDG_CACHE_HOME/distill/market1501_smoke_v1`` (``~/.cache``). It is built
in a temporary folder and renamed into place, so concurrent trials see either
nothing or the whole set."""
import os

import numpy as np

from distill.data.market1501 import SUBFOLDERS, Layout, register
from distill.data.generated_folder import write_once

VERSION = "market1501_smoke_v1"   # bump when the generator changes: the default folder is per version
HEIGHT, WIDTH = 64, 32
CAMERAS = 6
TRAIN_IDS, TEST_IDS = 16, 8
JUNK, DISTRACTORS = 4, 8
SEED = 1501
SMOKE = Layout("market1501_smoke", num_classes=TRAIN_IDS, size=(HEIGHT, WIDTH), crop_padding=2)


def default_folder() -> str:
    user = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(user, "distill", VERSION)


def _appearance(rng: np.random.RandomState) -> dict:
    return {"hair": rng.randint(10, 120, 3), "top": rng.randint(20, 236, 3), "stripe": rng.randint(20, 236, 3),
            "period": rng.randint(2, 7), "legs": rng.randint(20, 236, 3), "bag": rng.rand() < 0.5}


def _camera(rng: np.random.RandomState) -> dict:
    return {"gain": rng.uniform(0.75, 1.25, 3), "cast": rng.uniform(-20, 20, 3),
            "background": rng.randint(60, 200, 3)}


def _render(person: dict, camera: dict, rng: np.random.RandomState) -> np.ndarray:
    image = np.empty((HEIGHT, WIDTH, 3), np.float64)
    image[:] = camera["background"]
    image += np.linspace(-15, 15, HEIGHT)[:, None, None]          # a floor-to-ceiling gradient
    dy, dx = rng.randint(-2, 3, 2)
    x0, top = 8 + dx, 4 + dy
    image[top:top + 10, x0 + 4:x0 + 12] = person["hair"]
    body = image[top + 10:top + 32, x0:x0 + 16]
    body[:] = person["top"]
    rows = (np.arange(body.shape[0]) // person["period"]) % 2 == 0
    body[rows] = person["stripe"]
    image[top + 32:top + 58, x0 + 1:x0 + 7] = person["legs"]
    image[top + 32:top + 58, x0 + 9:x0 + 15] = person["legs"]
    if person["bag"]:
        image[top + 20:top + 30, x0 + 16:x0 + 20] = person["hair"]
    image = image * camera["gain"] + camera["cast"] + rng.normal(0, 6, image.shape)
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def write_market_smoke(folder: str) -> None:
    """Write the set into ``folder`` (created; should be empty). Same files, same bytes, every time."""
    from PIL import Image

    rng = np.random.RandomState(SEED)
    ids = rng.permutation(np.arange(1, 1502))[:TRAIN_IDS + TEST_IDS]
    train_ids, test_ids = sorted(ids[:TRAIN_IDS].tolist()), sorted(ids[TRAIN_IDS:].tolist())
    cameras = [_camera(rng) for _ in range(CAMERAS)]
    frame = [0]

    def save(sub: str, person_id: str, cam: int, pixels: np.ndarray) -> None:
        frame[0] += 1 + rng.randint(0, 40)
        name = f"{person_id}_c{cam + 1}s{rng.randint(1, 7)}_{frame[0]:06d}_{rng.randint(1, 4):02d}.jpg"
        Image.fromarray(pixels).save(os.path.join(folder, sub, name), quality=90)

    for sub in SUBFOLDERS:
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
    for sub in ("bounding_box_train", "bounding_box_test"):
        with open(os.path.join(folder, sub, "Thumbs.db"), "wb") as fh:
            fh.write(b"\xd0\xcf\x11\xe0 not an image")
    for person_id in train_ids + test_ids:
        person = _appearance(rng)
        seen_by = sorted(rng.choice(CAMERAS, rng.randint(2, CAMERAS + 1), replace=False).tolist())
        for cam in seen_by:
            if person_id in test_ids:
                save("query", f"{person_id:04d}", cam, _render(person, cameras[cam], rng))
            sub, count = ("bounding_box_train", rng.randint(3, 6)) if person_id in train_ids else \
                ("bounding_box_test", rng.randint(2, 4))
            for _ in range(count):
                save(sub, f"{person_id:04d}", cam, _render(person, cameras[cam], rng))
    for _ in range(DISTRACTORS):   # people of no query identity
        cam = rng.randint(CAMERAS)
        save("bounding_box_test", "0000", cam, _render(_appearance(rng), cameras[cam], rng))
    for _ in range(JUNK):   # junk: a box of background and noise, no whole person
        save("bounding_box_test", "-1", rng.randint(CAMERAS), rng.randint(0, 256, (HEIGHT, WIDTH, 3)).astype(np.uint8))


def _complete(folder: str) -> bool:
    return all(os.path.isdir(os.path.join(folder, sub)) for sub in SUBFOLDERS)


def smoke_folder(root) -> str:
    """The smoke set's folder, written first when absent."""
    folder = os.path.abspath(root or default_folder())
    return write_once(folder, "market1501_smoke", VERSION, write_market_smoke, _complete, ", ".join(SUBFOLDERS),
                      f"an absent or empty data.root (or, without one, {default_folder()})")


register(SMOKE, folder_of=smoke_folder)
