"""CPUs and GPUs per trial. A sweep file or a flag sets them; otherwise a trial
gets one CPU and, on a cluster with GPUs, a GPU fraction derived from the size
of the networks it trains: small CIFAR models pack several trials per GPU.
Ray enforces the fractions when scheduling (they are logical: no memory
isolation, which is why a CUDA OOM is reported with the resource request)."""
from typing import Optional

from distill.errors import ConfigError

# (total parameters below, GPU fraction): ResNet-32 pairs share a GPU four ways, WRN-28-10 gets one
GPU_FRACTIONS = ((2_000_000, 0.25), (10_000_000, 0.5))


def network_parameters(base: dict) -> int:
    import torch

    from distill.models import build_model, count_parameters

    nets = list(base.get("networks", [])) + ([base["teacher"]] if base.get("teacher") else [])
    total = 0
    with torch.device("meta"):   # sizes only: no memory, no init time
        for net in nets:
            total += count_parameters(build_model(net["arch"], num_classes=100, in_channels=3))
    return total


def default_gpu_fraction(base: dict) -> float:
    params = network_parameters(base)
    for limit, fraction in GPU_FRACTIONS:
        if params < limit:
            return fraction
    return 1.0


def check_request(cpus: float, gpus: Optional[float], workers: int = 1) -> None:
    if cpus <= 0:
        raise ConfigError("--cpus-per-trial", f"must be > 0, got {cpus}")
    if gpus is not None and (gpus < 0 or (gpus > 1 and not float(gpus).is_integer())):
        raise ConfigError("--gpus-per-trial", f"must be a fraction in [0, 1] or a whole number, got {gpus}")
    if workers > 1 and gpus is not None and not float(gpus).is_integer():
        # NCCL gives each rank a device of its own; a fraction would put ranks on one GPU
        raise ConfigError("--gpus-per-trial", f"is per worker and whole for a trial on {workers} workers "
                                              f"(trial.workers); got {gpus}; allowed: 0, 1, 2, ...")


def trial_workers(base: dict):
    """(workers, placement) of every trial of a sweep: ``trial.workers`` and ``trial.placement``."""
    trial = base.get("trial") or {}
    return int(trial.get("workers", 1)), str(trial.get("placement", "PACK"))


def resolve_request(cpus: Optional[float], gpus: Optional[float], spec, base: dict, cluster_gpus: float):
    """Flag, else the sweep's ``resources``, else the default; per worker of a trial."""
    sweep = spec.resources
    workers, _ = trial_workers(base)
    cpus = cpus if cpus is not None else (sweep.cpus_per_trial if sweep else 1.0)
    if gpus is None and sweep is not None and sweep.gpus_per_trial is not None:
        gpus = sweep.gpus_per_trial
    if gpus is None:
        gpus = (1.0 if workers > 1 else default_gpu_fraction(base)) if cluster_gpus > 0 else 0.0
    check_request(cpus, gpus, workers)
    return cpus, gpus
