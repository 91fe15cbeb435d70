"""Trials the driver keeps failed on a resume. Tune's own experiment snapshot
can still list a trial that died (its worker killed, no retries left) as
running, and would run it again on every ``--resume``; the experiment's record
(``trials.parquet``) knows it failed. Before a resume the driver writes the
failed trials it keeps failed (all of them, or with ``--retry-failed`` only the
diverged ones, which would diverge again) into ``tune/kept_failures.json``; a
trial Tune starts again that is listed there ends at once with its recorded error."""
import json
import os
from typing import Dict, Optional

KEPT_FAILURES_FILE = "kept_failures.json"


def kept_failures_path(tune_dir: str) -> str:
    return os.path.join(tune_dir, KEPT_FAILURES_FILE)


def recorded_failure(trial_dir: str, trial_id: str) -> Optional[str]:
    """The recorded error of ``trial_id`` if the driver keeps it failed, else None."""
    path = kept_failures_path(os.path.dirname(os.path.normpath(trial_dir)))
    if not os.path.exists(path):
        return None
    with open(path) as fh:
        kept: Dict[str, str] = json.load(fh)
    return kept.get(trial_id)
