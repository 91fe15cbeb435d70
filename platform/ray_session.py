"""Start or join Ray with the repository as every worker's working directory:
workers on any node then import ``distill`` and ``trainables`` from the same code."""
import os
from typing import Optional

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Anchored at the repository root ("/data", not "data": that would also drop distill/data/).
UPLOAD_EXCLUDES = [".git", "/data", "/experiments", "/runs", "/results", "/teachers", "*.pt", "*.parquet",
                   "__pycache__", ".pytest_cache"]


def connect(address: Optional[str] = None, num_cpus: Optional[int] = None) -> None:
    import ray

    # a snapshot per checkpoint is what keeping only the last two checkpoints costs; it is cheap here
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    # a diverged trial's last report carries its error and may carry no metric (it failed in epoch 1)
    os.environ.setdefault("TUNE_DISABLE_STRICT_METRIC_CHECKING", "1")
    address = address or os.environ.get("RAY_ADDRESS") or None
    runtime_env = {"working_dir": REPO_ROOT, "excludes": UPLOAD_EXCLUDES}
    kwargs = dict(runtime_env=runtime_env, log_to_driver=True, configure_logging=True, logging_level="warning")
    if address:
        ray.init(address=address, **kwargs)
    else:
        # "local" always starts a fresh Ray for this driver; on a cluster's head use --address auto.
        # The dashboard (if installed) listens on loopback only.
        ray.init(address="local", num_cpus=num_cpus, dashboard_host="127.0.0.1", include_dashboard=False, **kwargs)


def cluster_gpus() -> float:
    import ray

    return float(ray.cluster_resources().get("GPU", 0.0))
