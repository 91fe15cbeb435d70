"""Device, precision, threads and seeding: the process-wide settings of a run.
A reused Ray worker runs many trials, so everything here is set per run."""
import random

import numpy as np
import torch

from distill.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device", "cuda was asked for but no GPU is visible; allowed here: auto, cpu")
    return torch.device(name)


def autocast_dtype(amp: str, device: torch.device):
    """bf16 autocast on CUDA by default; on CPU only when asked (tests exercise the path)."""
    if amp == "bf16" or (amp == "auto" and device.type == "cuda"):
        return torch.bfloat16
    return None


def configure(train_cfg, seed: int, device: torch.device) -> None:
    if train_cfg.threads is not None:
        torch.set_num_threads(train_cfg.threads)
    torch.use_deterministic_algorithms(train_cfg.deterministic, warn_only=True)
    # deterministic mode also NaN-fills every torch.empty; our kernels overwrite what they allocate
    torch.utils.deterministic.fill_uninitialized_memory = False
    torch.backends.cudnn.benchmark = not train_cfg.deterministic
    torch.backends.cudnn.deterministic = train_cfg.deterministic
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state(data_generator: torch.Generator) -> dict:
    state = {"torch": torch.get_rng_state(), "data": data_generator.get_state(),
             "python": random.getstate(), "numpy": np.random.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict, data_generator: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    data_generator.set_state(state["data"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
