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


def read_checkpoint(path: str, field: str) -> dict:
    """``load_checkpoint`` for a file a user named: anything that is not a PyTorch
    checkpoint holding a mapping is one line naming the field and the file."""
    try:
        state = load_checkpoint(path)
    except Exception as err:  # noqa: BLE001 - pickle, zip and torch raise many types for a bad file
        reason = str(err).strip().splitlines()[0][:120] if str(err).strip() else type(err).__name__
        raise ConfigError(field, f"{path} is not a PyTorch checkpoint ({type(err).__name__}: {reason})") from None
    if not isinstance(state, dict):
        raise ConfigError(field, f"{path} holds a {type(state).__name__}, not a checkpoint or state dict")
    return state


def load_network_weights(spec: str, network_name: str, field: str) -> dict:
    """``spec`` is a checkpoint file or folder, optionally ``PATH#NETWORK`` to pick one of
    its networks; a plain state dict file (``torch.save(model.state_dict())``, or one under a
    ``state_dict`` or ``model`` key, as other code bases save them) also works. Defaults to
    the same network name, else the first."""
    path, _, wanted = spec.partition("#")
    if not os.path.exists(path):
        raise ConfigError(field, f"checkpoint not found: {path}")
    state = read_checkpoint(path, field)
    if "networks" not in state:
        for key in ("state_dict", "model"):
            if isinstance(state.get(key), dict):
                return state[key]
        return state
    networks = state["networks"]
    name = wanted or (network_name if network_name in networks else next(iter(networks)))
    if name not in networks:
        raise ConfigError(field, f"{path} has no network {name!r}; allowed: {', '.join(networks)}")
    return networks[name]
