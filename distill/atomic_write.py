"""Write files so that a reader never sees half of one: write a temp file in the
same folder, fsync, then rename over the target (atomic on POSIX)."""
import json
import os
import tempfile
from typing import Callable

import yaml


def atomic_write(path: str, write: Callable, mode: str = "w") -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, mode) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_yaml(path: str, data) -> None:
    atomic_write(path, lambda fh: yaml.safe_dump(data, fh, sort_keys=False))


def write_json(path: str, data) -> None:
    atomic_write(path, lambda fh: json.dump(data, fh, indent=1))
