"""Checkpoint files. A run's checkpoint holds everything needed to continue it
with identical numbers: networks, optimizers, schedules, the method's own
modules, epoch, metric history and RNG states."""
import os

import torch

from distill.atomic_write import atomic_write
from distill.errors import ConfigError

CHECKPOINT_FILE = "checkpoint.pt"


def save_checkpoint(folder: str, state: dict) -> str:
    path = os.path.join(folder, CHECKPOINT_FILE)
    atomic_write(path, lambda fh: torch.save(state, fh), mode="wb")
    return path


def load_checkpoint(folder_or_file: str) -> dict:
    path = folder_or_file
    if os.path.isdir(path):
        path = os.path.join(path, CHECKPOINT_FILE)
    return torch.load(path, map_location="cpu", weights_only=False)


def load_network_weights(spec: str, network_name: str, field: str) -> dict:
    """``spec`` is a checkpoint file or folder, optionally ``PATH#NETWORK`` to pick one of
    its networks; a plain state_dict file also works. Defaults to the same name, else the first."""
    path, _, wanted = spec.partition("#")
    if not os.path.exists(path):
        raise ConfigError(field, f"checkpoint not found: {path}")
    state = load_checkpoint(path)
    if "networks" not in state:
        return state
    networks = state["networks"]
    name = wanted or (network_name if network_name in networks else next(iter(networks)))
    if name not in networks:
        raise ConfigError(field, f"{path} has no network {name!r}; allowed: {', '.join(networks)}")
    return networks[name]
