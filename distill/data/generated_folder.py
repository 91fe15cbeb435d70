"""Writing a generated smoke data set into its folder once, safely under concurrency:
the files are written into a temporary sibling and renamed into place, so trials that
start together see either nothing or the whole set, and the loser of the race uses the
winner's copy."""
import os
import shutil
import tempfile
from typing import Callable

from distill.errors import ConfigError


def write_once(folder: str, name: str, version: str, write: Callable[[str], None],
               complete: Callable[[str], bool], expected: str, where: str) -> str:
    """``folder`` when ``complete(folder)``; else ``write(tmp)`` renamed to ``folder``. A folder
    that holds other files is one line naming ``data.root``, ``expected`` (what the set needs
    there) and ``where`` (the folders it may write into), never overwritten."""
    if complete(folder):
        return folder
    if os.path.isdir(folder) and os.listdir(folder):
        raise ConfigError("data.root", f"{folder} holds files but not {expected}; {name} writes its data into "
                                       f"{where}")
    tmp = None
    try:
        os.makedirs(os.path.dirname(folder), exist_ok=True)
        tmp = tempfile.mkdtemp(dir=os.path.dirname(folder), prefix=f".{version}_")
        write(tmp)
        os.chmod(tmp, 0o755)
        try:
            if os.path.isdir(folder):
                os.rmdir(folder)            # empty (checked above)
            os.rename(tmp, folder)
        except OSError:
            if not complete(folder):        # else another process renamed its copy first: use that one
                raise
    except OSError as err:
        raise ConfigError("data.root", f"cannot write {name} into {folder} "
                                       f"({err.strerror or type(err).__name__})") from None
    finally:
        if tmp is not None and os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return folder
