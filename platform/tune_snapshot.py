"""Resume from Tune's last *complete* experiment snapshot.

Tune (2.60) snapshots a run as a set of files per driver session S in its experiment
folder: ``experiment_state-S.json`` (the trials) and the search state
(``search_gen_state-S.json`` with ``searcher-state-S.pkl``, or
``basic-variant-state-S.json``), plus ``callback-states-S.pkl``. They are written in a
staging folder and then copied into the storage one file after another, in place. A
driver killed during that copy leaves a snapshot cut short: a truncated file, or the
trials without the search state. Tune restores each kind from the newest file of its
kind on its own, so a cut-short first snapshot restored the trials with a search
algorithm that had never been told how many trials to run: it planned none, and the
resumed sweep ended after the trials already started (a CI run of the random-kill test
hit it: 1 trial of 8, exit 0). Before a resume the files of every session newer than
the last complete snapshot are moved into ``cut_short/`` (kept, not deleted); with no
complete snapshot the driver builds the run again over the same folder, and the Optuna
study, which keeps every trial, decides what is left (``platform/study_searcher.py``)."""
import json
import os
import pickletools
import re
from typing import Dict, List, Optional, Tuple

from distill.remote_files import is_remote, join

SET_ASIDE = "cut_short"
EXPERIMENT_STATE = re.compile(r"^experiment_state-(.+)\.json$")
# every file Tune writes per session, besides the experiment state; all are pickles
SESSION_FILES = ("search_gen_state-{}.json", "searcher-state-{}.pkl", "basic-variant-state-{}.json",
                 "callback-states-{}.pkl")
SEARCH_STATES = ("search_gen_state-{}.json", "basic-variant-state-{}.json")


def _filesystem(path: str):
    from pyarrow import fs

    if is_remote(path):
        return fs.FileSystem.from_uri(path)
    return fs.LocalFileSystem(), os.path.abspath(path)


def _is_json(data: bytes) -> bool:
    try:
        json.loads(data)
        return True
    except ValueError:
        return False


def _is_pickle(data: bytes) -> bool:
    """A whole pickle, checked by walking its opcodes up to STOP (nothing is executed)."""
    try:
        for _ in pickletools.genops(data):
            pass
        return bool(data)
    except Exception:  # noqa: BLE001 - a truncated pickle fails in many ways
        return False


def _complete(files: Dict[str, bytes], session: str) -> bool:
    if not _is_json(files[f"experiment_state-{session}.json"]):
        return False
    present = [name.format(session) for name in SESSION_FILES if name.format(session) in files]
    if not all(_is_pickle(files[name]) for name in present):
        return False
    if f"search_gen_state-{session}.json" in files and f"searcher-state-{session}.pkl" not in files:
        return False   # the wrapper's state without the searcher it wraps
    return any(name.format(session) in files for name in SEARCH_STATES)


def set_aside_cut_short(tune_dir: str) -> Tuple[List[str], Optional[str]]:
    """Move the snapshots newer than the last complete one into ``cut_short/``; returns the
    sessions moved and the session Tune will resume from (None: it starts again)."""
    from pyarrow import fs

    filesystem, root = _filesystem(tune_dir)
    infos = filesystem.get_file_info(fs.FileSelector(root, recursive=False, allow_not_found=True))
    names = {os.path.basename(i.path) for i in infos if i.type == fs.FileType.File}
    sessions = sorted((m.group(1) for m in map(EXPERIMENT_STATE.match, names) if m), reverse=True)
    moved, kept = [], None
    for session in sessions:
        own = [f"experiment_state-{session}.json"] + [n.format(session) for n in SESSION_FILES
                                                      if n.format(session) in names]
        files = {}
        for name in own:
            with filesystem.open_input_stream(f"{root}/{name}") as stream:
                files[name] = stream.readall()
        if _complete(files, session):
            kept = session
            break
        filesystem.create_dir(f"{root}/{SET_ASIDE}", recursive=True)
        for name in own:
            filesystem.move(f"{root}/{name}", f"{root}/{SET_ASIDE}/{name}")
        moved.append(session)
    return moved, kept


def resume_line(tune_dir: str, moved: List[str], kept: Optional[str]) -> str:
    start = f"resuming from snapshot {kept}" if kept else "Tune starts the experiment again (the study keeps its trials)"
    if not moved:
        return f"tune: no experiment snapshot to restore; {start}"
    where = join(tune_dir, SET_ASIDE) if is_remote(tune_dir) else os.path.join(tune_dir, SET_ASIDE)
    return (f"tune: the snapshot of session(s) {', '.join(moved)} was cut short by the kill (kept in {where}); "
            f"{start}")
