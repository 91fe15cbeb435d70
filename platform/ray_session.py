"""Start or join Ray so that every worker imports ``distill`` and ``trainables`` from this
repository: on a cluster as Ray's working directory package, on a local Ray from the path."""
import os
import sys
from typing import Optional

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Anchored at the repository root ("/data", not "data": that would also drop distill/data/).
# The list is complete on its own: it holds Ray's default excludes too (.git, .venv, venv,
# __pycache__), which are switched off below so that Ray does not announce them.
UPLOAD_EXCLUDES = [".git", ".venv", "venv", "/data", "/experiments", "/runs", "/results", "/teachers", "*.pt",
                   "*.parquet", "__pycache__", ".pytest_cache"]


def driver_environment(address: Optional[str] = None) -> None:
    """Ray settings of this driver process that Ray reads from the environment; each is
    set only where the user has not set it. The commands call this first, before anything
    imports Ray (``connect`` calls it again). Only the driver's behaviour changes: workers
    get the auth mode Ray would give them anyway, and the other two are read by the driver."""
    local = not (address or os.environ.get("RAY_ADDRESS"))
    # Ray's default excludes (.git, .venv, venv, __pycache__) are in UPLOAD_EXCLUDES; with
    # Ray's own list empty the upload is the same and Ray prints no "'.git' is now ignored"
    # notice (ray/_private/runtime_env/working_dir.py warns for each default that exists).
    os.environ.setdefault("RAY_OVERRIDE_RUNTIME_ENV_DEFAULT_EXCLUDES", "")
    # RunConfig(verbose=0) silences Tune's legacy output engine; the new one (the default)
    # still prints its "Configuration for experiment" box, "View detailed results here"
    # and a TensorBoard line into Ray's /tmp session at any verbosity. We print our own.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    # A fresh local Ray turns token authentication on by default and says so; stating the
    # same mode explicitly keeps it on (a token is made in ~/.ray/auth_token if missing)
    # without the notice. Ray reads the mode once, when it is imported: set it only before
    # that, or this driver and the Ray it starts would disagree. On a cluster (--address)
    # Ray decides from the token it finds; nothing is set.
    if local and "ray" not in sys.modules:
        os.environ.setdefault("RAY_AUTH_MODE", "token")


_connected = []   # set once this process has started or joined Ray


def connected_once() -> bool:
    return bool(_connected)


def connect(address: Optional[str] = None, num_cpus: Optional[int] = None) -> None:
    driver_environment(address)
    _connected.append(True)
    import ray

    # a snapshot per checkpoint is what keeping only the last two checkpoints costs; it is cheap here
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    # a diverged trial's last report carries its error and may carry no metric (it failed in epoch 1)
    os.environ.setdefault("TUNE_DISABLE_STRICT_METRIC_CHECKING", "1")
    address = address or os.environ.get("RAY_ADDRESS") or None
    kwargs = dict(log_to_driver=True, configure_logging=True, logging_level="warning")
    if address:
        # other nodes get the code as a package Ray uploads once and unpacks once per node
        ray.init(address=address, runtime_env={"working_dir": REPO_ROOT, "excludes": UPLOAD_EXCLUDES}, **kwargs)
    else:
        # a local Ray's workers are children of the processes this driver starts and inherit its
        # environment: the repository on their path is the same code without packing, uploading
        # and unpacking it (a working_dir costs the first trial about a second)
        paths = [REPO_ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != REPO_ROOT]
        os.environ["PYTHONPATH"] = os.pathsep.join(paths)
        # "local" always starts a fresh Ray for this driver; on a cluster's head use --address auto.
        from platform.lean_local_ray import without_unused_head_processes

        with without_unused_head_processes():
            ray.init(address="local", num_cpus=num_cpus, dashboard_host="127.0.0.1", include_dashboard=False, **kwargs)


def cluster_gpus() -> float:
    import ray

    return float(ray.cluster_resources().get("GPU", 0.0))


def disconnect() -> None:
    """Shut Ray down (a local one) or leave the cluster, while this driver is still in
    control: Tune has stopped its actors by now, and a worker's exit during the teardown
    is not printed as a traceback (``SystemExit``) after the results, as it is when Ray
    is left to its atexit hook (which waits for late worker output)."""
    import ray

    if ray.is_initialized():
        ray.shutdown()
