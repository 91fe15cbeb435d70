"""``--storage s3://bucket/prefix``: the experiment folders live under the URI, and the driver
works in a local copy of them (``~/.cache/distill/experiments/s3/bucket/prefix``, on the
head's disk on a cluster).

Tune reads and writes its own part (``tune/``: experiment state, trial results and
checkpoints) at the URI directly, from every node. The rest of an experiment folder
(``experiment.yaml``, the Optuna journal, ``trials.parquet``, resolved configs, the best
config, reports, exports) is written locally by the driver and uploaded: after every trial
that ends or saves a checkpoint, and when the command ends. The Optuna journal is a POSIX
file (appended under a file lock), which S3 is not: it is kept on the head's disk and its
copy under the URI is what ``--resume`` starts from after the head is replaced."""
import os
from typing import Dict, Optional, Tuple

from distill.remote_files import download, is_remote, join, local_copy_path, upload

TUNE_PART = "tune/*"


class StorageMirror:
    def __init__(self, storage: str):
        self.remote: Optional[str] = storage if is_remote(storage) else None
        self.local = local_copy_path(storage, "experiments") if self.remote else storage
        self._sent: Dict[str, Dict[str, Tuple[int, int]]] = {}

    def experiment_uri(self, experiment_dir: str) -> str:
        """Where an experiment folder lives: under the URI, or the folder itself."""
        if not self.remote:
            return experiment_dir
        rel = os.path.relpath(os.path.abspath(experiment_dir), os.path.abspath(self.local))
        return join(self.remote, rel.replace(os.sep, "/"))

    def tune_storage(self, experiment_dir: str) -> str:
        """Tune's ``storage_path``: the experiment's URI (Tune writes ``tune/`` under it)."""
        return self.experiment_uri(experiment_dir)

    def pull(self) -> int:
        """The experiment folders under the URI into the local copy, without Tune's parts
        (Tune restores those from the URI itself)."""
        if not self.remote:
            return 0
        os.makedirs(self.local, exist_ok=True)
        return download(self.remote, self.local, exclude=("*/" + TUNE_PART, "teachers/*"))

    def pull_experiment(self, experiment_dir: str) -> int:
        if not self.remote:
            return 0
        return download(self.experiment_uri(experiment_dir), experiment_dir, exclude=(TUNE_PART,))

    def push(self, experiment_dir: str) -> int:
        """Upload what changed in the experiment folder since the last push."""
        if not self.remote:
            return 0
        sent = self._sent.setdefault(experiment_dir, {})
        return upload(experiment_dir, self.experiment_uri(experiment_dir), exclude=(TUNE_PART, "*.lock"), sent=sent)


def local_experiment(path: str):
    """An experiment folder named by a path or an ``s3://`` URI, as a local folder: a URI is
    copied into its local copy first (Tune's part left out). Returns (folder, push) where
    ``push()`` uploads what a command then wrote there (nothing for a local folder)."""
    from distill.errors import ConfigError

    if not is_remote(path):
        return path, lambda: 0
    parent, _, _ = path.rstrip("/").rpartition("/")
    mirror = StorageMirror(parent)
    local = local_copy_path(path.rstrip("/"), "experiments")
    try:
        if not download(path, local, exclude=(TUNE_PART,)) and not os.path.isdir(local):
            raise ConfigError("EXPERIMENT", f"{path} holds no experiment folder")
    except OSError as err:
        raise ConfigError("EXPERIMENT", f"{path} cannot be read: {str(err).splitlines()[0]}") from None
    return local, lambda: mirror.push(local)


def local_output(path: Optional[str]):
    """An output folder given as a path or an ``s3://`` URI: (local folder, upload())."""
    if path is None or not is_remote(path):
        return path, lambda: 0
    local = local_copy_path(path.rstrip("/"), "outputs")
    sent: Dict[str, Tuple[int, int]] = {}
    return local, lambda: upload(local, path, sent=sent)
