"""Image folders decoded once into uint8 (N, 3, H, W) arrays and cached.

The cache is one ``.npz`` (read with numpy, no pickle) beside the data, or in
``$XDG_CACHE_HOME/distill`` (``~/.cache/distill``) when the data folder is
read-only. It is keyed by every image's path (in listing order), size and mtime,
so adding, removing or touching a file invalidates it; labels are never cached,
so relabelling reuses the decoded pixels. Writes are atomic (a private temporary
file renamed into place): concurrent trials never read half a file, and a
corrupt or stale file is simply decoded again."""
import hashlib
import os
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from distill.errors import ConfigError


@dataclass(frozen=True)
class CacheSpec:
    folder: str                  # the data folder: relative paths in the key, first cache place
    file_name: str               # the cache's name inside ``folder``
    user_prefix: str             # the fallback's name: ``<user_prefix>_<hash of folder>.npz``
    size: Tuple[int, int]        # (H, W) every image is resized to
    version: str                 # bump to invalidate every existing cache of a data set
    layout: str                  # named in errors: "listed by the <layout> layout"
    # a (left, upper, right, lower) box cut before resizing, on images that must be exactly
    # ``source_size`` (W, H): a box is only meaningful on the layout it was measured on (CelebA's faces)
    crop: Optional[Tuple[int, int, int, int]] = None
    source_size: Optional[Tuple[int, int]] = None


def decode(path: str, size: Tuple[int, int], crop: Optional[Tuple[int, int, int, int]] = None,
           source_size: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """One image as RGB uint8 (3, H, W); greyscale becomes RGB, other sizes are resized bilinearly
    (after cutting ``crop`` out of an image of ``source_size``, when given)."""
    from PIL import Image, UnidentifiedImageError

    height, width = size
    try:
        with Image.open(path) as image:
            if source_size is not None and image.size != tuple(source_size):
                raise ConfigError("data.root", f"{path} is {image.size[0]}x{image.size[1]} (WxH); the layout's "
                                               f"images are {source_size[0]}x{source_size[1]}")
            image = image.convert("RGB")
            if crop is not None:
                image = image.crop(crop)
            if image.size != (width, height):
                image = image.resize((width, height), Image.BILINEAR)
            return np.asarray(image, dtype=np.uint8).transpose(2, 0, 1)
    except ConfigError:   # a ValueError too: not to be reworded below
        raise
    except (OSError, UnidentifiedImageError, ValueError) as err:
        raise ConfigError("data.root", f"{path} is not a readable image ({type(err).__name__})") from None


def decode_all(paths: Sequence[str], size: Tuple[int, int], crop: Optional[Tuple[int, int, int, int]] = None,
               source_size: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """Decode into one preallocated (N, 3, H, W) array; PIL releases the GIL, so threads help."""
    out = np.empty((len(paths), 3) + tuple(size), np.uint8)

    def fill(i: int) -> None:
        out[i] = decode(paths[i], size, crop, source_size)

    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) * 2)) as pool:
        for _ in pool.map(fill, range(len(paths)), chunksize=256):
            pass
    return out


def signature(spec: CacheSpec, groups: Dict[str, List[str]]) -> str:
    # the crop joins the key only when set, so the caches written before it existed stay current
    cut = [f"crop{tuple(spec.crop)}"] if spec.crop is not None else []
    digest = hashlib.sha256(":".join([spec.version] + cut + [str(len(p)) for p in groups.values()]).encode())
    for paths in groups.values():
        for path in paths:
            try:
                st = os.stat(path)
            except OSError as err:
                raise ConfigError("data.root", f"{path} cannot be read ({type(err).__name__}); "
                                               f"listed by the {spec.layout} layout") from None
            digest.update(f"\n{os.path.relpath(path, spec.folder)}\t{st.st_size}\t{st.st_mtime_ns}".encode())
    return digest.hexdigest()[:32]


def cache_paths(spec: CacheSpec) -> List[str]:
    key = hashlib.sha256(os.path.abspath(spec.folder).encode()).hexdigest()[:12]
    user = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return [os.path.join(spec.folder, spec.file_name), os.path.join(user, "distill", f"{spec.user_prefix}_{key}.npz")]


def _read(path: str, sig: str, shapes: Dict[str, tuple]) -> Optional[Dict[str, np.ndarray]]:
    """The cached arrays, or None when absent, stale, or unreadable (e.g. half-written)."""
    if not os.path.isfile(path):
        return None
    try:
        with np.load(path, allow_pickle=False) as cached:
            if str(cached["signature"]) != sig:
                return None
            arrays = {name: cached[name] for name in shapes}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    if any(arrays[name].shape != shape for name, shape in shapes.items()):
        return None
    return arrays


def _write(path: str, sig: str, arrays: Dict[str, np.ndarray]) -> bool:
    tmp = None
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".distill_cache_", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, signature=np.asarray(sig), **arrays)
        os.replace(tmp, path)
        return True
    except OSError:   # a read-only data folder (or a full disk): the caller tries the next place
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        return False


def cached_images(spec: CacheSpec, groups: Dict[str, List[str]]) -> Dict[str, np.ndarray]:
    """``groups`` maps an array name to its image paths; returns the decoded (N, 3, H, W) arrays by name,
    from the first cache place that holds a current copy, else decoded and written to the first writable one."""
    sig = signature(spec, groups)
    shapes = {name: (len(paths), 3) + tuple(spec.size) for name, paths in groups.items()}
    places = cache_paths(spec)
    for path in places:
        arrays = _read(path, sig, shapes)
        if arrays is not None:
            return arrays
    arrays = {name: decode_all(paths, spec.size, spec.crop, spec.source_size) for name, paths in groups.items()}
    for path in places:
        if _write(path, sig, arrays):
            break
    return arrays
