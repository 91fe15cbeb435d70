"""Folders under a URI (``s3://bucket/prefix``, or any scheme pyarrow's file systems open)
and their local copies.

A data set or a teacher under an S3 prefix is *staged*: copied to this node's disk once,
under a lock per folder and node, and read from there; the loaders never see the URI. An
experiment folder under S3 is mirrored: the driver works in a local copy and uploads what
changed. Credentials, region and endpoint come from where AWS tools look for them (the
environment, ``~/.aws``, an instance role); ``AWS_ENDPOINT_URL`` points everything at an
emulator in the tests."""
import fcntl
import fnmatch
import os
import shutil
from typing import Dict, Iterable, Tuple

CACHE_ENV = "DISTILL_CACHE"


def is_remote(path) -> bool:
    return isinstance(path, str) and "://" in path and not path.startswith("file://")


def join(uri: str, *parts: str) -> str:
    return "/".join([uri.rstrip("/")] + [p.strip("/") for p in parts if p])


def cache_root() -> str:
    return os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "distill")


def local_copy_path(uri: str, kind: str) -> str:
    """Where this node keeps its copy of ``uri``: the same path below the cache, by scheme."""
    scheme, _, rest = uri.partition("://")
    return os.path.join(cache_root(), kind, scheme, *[p for p in rest.split("/") if p])


def _filesystem(uri: str):
    from pyarrow import fs

    return fs.FileSystem.from_uri(uri)


def remote_files(uri: str) -> Dict[str, Tuple[int, float]]:
    """Every file under ``uri``: relative path -> (size, modification time or 0). Empty if none."""
    from pyarrow import fs

    filesystem, root = _filesystem(uri)
    infos = filesystem.get_file_info(fs.FileSelector(root, recursive=True, allow_not_found=True))
    out = {}
    for info in infos:
        if info.type == fs.FileType.File:
            rel = info.path[len(root):].lstrip("/")
            out[rel] = (info.size, info.mtime.timestamp() if info.mtime else 0.0)
    return out


def exists(uri: str) -> bool:
    """A file, or a prefix holding at least one file."""
    from pyarrow import fs

    filesystem, root = _filesystem(uri)
    info = filesystem.get_file_info(root)
    return info.type == fs.FileType.File or bool(remote_files(uri))


def _skipped(rel: str, exclude: Iterable[str]) -> bool:
    return any(fnmatch.fnmatch(rel, pattern) for pattern in exclude)


def download(uri: str, local: str, exclude: Iterable[str] = ()) -> int:
    """Copy the files under ``uri`` that ``local`` lacks or holds at another size; returns how
    many were copied. Relative paths matching a pattern of ``exclude`` (``tune/*``) are left out."""
    filesystem, root = _filesystem(uri)
    copied = 0
    for rel, (size, _) in sorted(remote_files(uri).items()):
        if _skipped(rel, exclude):
            continue
        target = os.path.join(local, *rel.split("/"))
        if os.path.isfile(target) and os.path.getsize(target) == size:
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        partial = target + ".partial"
        with filesystem.open_input_stream(f"{root}/{rel}") as src, open(partial, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        os.replace(partial, target)
        copied += 1
    return copied


def upload(local: str, uri: str, exclude: Iterable[str] = (), sent: Dict[str, Tuple[int, int]] = None) -> int:
    """Copy the files under ``local`` to ``uri``; with ``sent`` (updated here), only those whose
    size or modification time changed since the last upload. Returns how many were copied."""
    filesystem, root = _filesystem(uri)
    sent = {} if sent is None else sent
    copied = 0
    for folder, _, names in os.walk(local):
        for name in sorted(names):
            if name.endswith(".partial"):
                continue
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, local).replace(os.sep, "/")
            if _skipped(rel, exclude):
                continue
            stat = os.stat(path)
            stamp = (stat.st_size, stat.st_mtime_ns)
            if sent.get(rel) == stamp:
                continue
            with open(path, "rb") as src, filesystem.open_output_stream(f"{root}/{rel}") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            sent[rel] = stamp
            copied += 1
    return copied


def stage(uri: str, kind: str = "staged") -> Tuple[str, bool]:
    """This node's copy of the folder or file at ``uri``, made once: concurrent callers on the
    node wait on one lock and the first copies, into a temporary folder renamed when complete,
    so a copy cut short is never taken for a whole one. Returns (local path, whether this call
    copied)."""
    local = local_copy_path(uri, kind)
    os.makedirs(os.path.dirname(local), exist_ok=True)
    with open(local + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if os.path.exists(local):
                return local, False
            partial = local + ".partial"
            shutil.rmtree(partial, ignore_errors=True)
            from pyarrow import fs

            filesystem, root = _filesystem(uri)
            if filesystem.get_file_info(root).type == fs.FileType.File:
                with filesystem.open_input_stream(root) as src, open(partial, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            else:
                download(uri, partial)
            os.replace(partial, local)
            return local, True
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
