"""Who is training a store teacher: a claim file in the teacher's folder, created atomically
(``O_CREAT | O_EXCL``, which shared filesystems such as NFSv3+ and EFS honour), holding the
owner's host, pid and start time. The owner refreshes its mtime while it trains; a claim whose
owner is gone (the same host and its pid dead, or no refresh for ``STALE_SECONDS``) is stale
and may be taken over, the half-trained teacher then resumed from its checkpoint. A store on
S3 (which has no create-if-absent a driver can use) keeps its claims on this machine's disk,
beside its local copies: drivers on one head still take turns; give drivers on several
machines a shared folder as their store."""
import json
import os
import socket
import time
from typing import Optional

CLAIM_FILE = "claim.json"
STALE_SECONDS = 90.0    # several refresh intervals of the owner's wait loop


def claim_folder(folder: str) -> str:
    from distill.remote_files import is_remote, local_copy_path

    return local_copy_path(folder, "teacher-claims") if is_remote(folder) else folder


def claim_path(folder: str) -> str:
    return os.path.join(claim_folder(folder), CLAIM_FILE)


def try_claim(folder: str) -> bool:
    """Claim ``folder`` for this process; False when another claim exists."""
    os.makedirs(claim_folder(folder), exist_ok=True)
    try:
        fd = os.open(claim_path(folder), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as fh:
        json.dump({"host": socket.gethostname(), "pid": os.getpid(), "started": time.time()}, fh)
    return True


def read_claim(folder: str) -> Optional[dict]:
    try:
        with open(claim_path(folder)) as fh:
            owner = json.load(fh)
        owner["refreshed"] = os.path.getmtime(claim_path(folder))
        return owner
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale(owner: Optional[dict], now: Optional[float] = None) -> bool:
    if owner is None:
        return True
    now = time.time() if now is None else now
    if owner.get("host") == socket.gethostname() and not _alive(int(owner.get("pid", -1))):
        return True
    return now - float(owner.get("refreshed", 0.0)) > STALE_SECONDS


def refresh(folder: str) -> None:
    try:
        os.utime(claim_path(folder))
    except OSError:
        pass


def release(folder: str) -> None:
    try:
        os.unlink(claim_path(folder))
    except OSError:
        pass


def take_over(folder: str) -> bool:
    """Replace a stale claim by ours (another driver may win the race: then False)."""
    release(folder)
    return try_claim(folder)


def describe(owner: Optional[dict]) -> str:
    if owner is None:
        return "another driver"
    started = time.strftime("%H:%M:%S", time.localtime(float(owner.get("started", 0.0))))
    return f"{owner.get('host')} pid {owner.get('pid')} since {started}"
