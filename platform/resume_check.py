"""Before ``--resume`` starts Ray: the checkpoint every trial would continue from must be
a readable checkpoint file, or the driver stops with one line naming it (otherwise the
error surfaces inside a Ray trial, after the cluster has started).

Which checkpoint: a trial folder ``EXPERIMENT/tune/trial_*/`` holds Tune's
``checkpoint_NNNNNN/`` folders, each with the engine's ``checkpoint.pt``. Tune restores
a trial from the checkpoint of its last result in the newest ``experiment_state-*.json``
(``checkpoint_dir_name``), so that one is checked; that is the newest folder, except
after a killed driver, when a worker may have left a newer, half-copied folder Tune
never recorded (and rewrites on resume). When the state file cannot be read, the newest
folder of every trial is checked; with no state file Tune restores nothing.

The check is cheap and reads nothing large: the file is opened as the zip archive
``torch.save`` writes, its central directory (at the end of the file: a truncated file
has none) must list a top-level ``data.pkl`` record, every record must lie within the
file, and the small ``data.pkl`` record is read back with its CRC checked. Tensor
records are not read. Nothing is written."""
import glob
import json
import os
import re
import zipfile
from typing import Dict, List, Optional

from distill.checkpoint import CHECKPOINT_FILE
from distill.errors import ConfigError
from platform.experiment_dir import TUNE_NAME

FIELD = "resume checkpoint"
_CHECKPOINT_DIR = re.compile(r"^checkpoint_(\d+)$")


def latest_checkpoints(experiment_dir: str) -> List[str]:
    """The newest ``checkpoint_N`` folder of every trial folder that has one."""
    latest = []
    for trial_dir in _trial_dirs(experiment_dir):
        numbered = [(int(m.group(1)), name) for name in os.listdir(trial_dir)
                    if (m := _CHECKPOINT_DIR.match(name)) and os.path.isdir(os.path.join(trial_dir, name))]
        if numbered:
            latest.append(os.path.join(trial_dir, max(numbered)[1]))
    return latest


def restore_checkpoints(experiment_dir: str) -> List[str]:
    """The checkpoint folder each trial of the experiment would continue from on resume."""
    states = sorted(glob.glob(os.path.join(glob.escape(os.path.join(experiment_dir, TUNE_NAME)),
                                           "experiment_state-*.json")))
    if not states:
        return []           # Tune has nothing to restore: launch() starts a new Tune run
    try:
        recorded = recorded_checkpoints(states[-1])   # the one Tune restores (the newest name)
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return latest_checkpoints(experiment_dir)
    folders = []
    for trial_dir in _trial_dirs(experiment_dir):
        name = recorded.get(os.path.basename(trial_dir))
        if name:
            folders.append(os.path.join(trial_dir, name))
    return folders


def recorded_checkpoints(state_file: str) -> Dict[str, Optional[str]]:
    """trial folder name -> the checkpoint folder of its last result in a Tune experiment
    state (None: the trial has reported no checkpoint and would start afresh)."""
    with open(state_file) as fh:
        state = json.load(fh)
    out = {}
    for trial_json, runtime_json in state["trial_data"]:
        trial, runtime = json.loads(trial_json), json.loads(runtime_json)
        name = (runtime.get("last_result") or {}).get("checkpoint_dir_name")
        if name is not None and not (isinstance(name, str) and _CHECKPOINT_DIR.match(name)):
            raise ValueError(f"unexpected checkpoint_dir_name {name!r}")
        out[trial["relative_logdir"]] = name
    return out


def _trial_dirs(experiment_dir: str) -> List[str]:
    tune_dir = os.path.join(experiment_dir, TUNE_NAME)
    if not os.path.isdir(tune_dir):
        return []
    return [os.path.join(tune_dir, name) for name in sorted(os.listdir(tune_dir))
            if name.startswith("trial_") and os.path.isdir(os.path.join(tune_dir, name))]


def checkpoint_problem(path: str) -> Optional[str]:
    """Why ``path`` is not a whole ``torch.save`` archive, or None when it looks like one."""
    if not os.path.isfile(path):
        return "missing" if not os.path.exists(path) else "not a file"
    size = os.path.getsize(path)
    try:
        with zipfile.ZipFile(path) as archive:
            records = archive.infolist()
            pickles = [r for r in records if r.filename.count("/") == 1 and r.filename.endswith("/data.pkl")]
            if not pickles:
                return "a zip archive without the data.pkl record torch.save writes"
            beyond = [r.filename for r in records if r.header_offset + r.compress_size > size]
            if beyond:
                return f"record {beyond[0]} lies beyond the end of the file"
            archive.read(pickles[0])   # small; zipfile checks its CRC
    except Exception as err:  # noqa: BLE001 - zipfile and the OS raise many types for a damaged file
        reason = str(err).strip().splitlines()[0][:120] if str(err).strip() else ""
        return f"{type(err).__name__}{': ' + reason if reason else ''}; a truncated or overwritten file"
    return None


def check_resume_checkpoints(experiment_dir: str) -> None:
    """One ``ConfigError`` line (field ``resume checkpoint``) for the first trial whose
    checkpoint to continue from is not readable, counting any others."""
    bad = []
    for folder in restore_checkpoints(experiment_dir):
        path = os.path.join(folder, CHECKPOINT_FILE)
        problem = checkpoint_problem(path)
        if problem:
            bad.append((path, problem))
    if bad:
        path, problem = bad[0]
        more = f"; {len(bad) - 1} more trial(s) have the same problem" if len(bad) > 1 else ""
        raise ConfigError(FIELD, f"{path} is not a readable checkpoint ({problem}); --resume needs the "
                                 f"checkpoint every trial continues from readable{more}")
