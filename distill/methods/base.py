"""The contract between the trainer and a method (after mdistiller's
``distillers/_base.py``), wide enough for every method family:

- online peers (DML, TADML): several trained networks, ``losses`` sees all outputs;
- frozen teachers (KD, AT, ...): ``uses_teacher``; the trainer runs the teacher under no_grad;
- multi-exit self-distillation: a method may wrap networks with extra heads (``extra_modules``);
- data-free learning / adversarial terms: a method owns extra modules with their own optimizers
  (a generator, discriminators) and updates them in ``after_step``.
"""
import dataclasses
from dataclasses import dataclass
from typing import Dict, List, Optional

import torch
from torch import nn

from distill.errors import ConfigError


@dataclass(frozen=True)
class Needs:
    """Which taps the method reads from each network: plain ``forward`` suffices for logits."""
    features: bool = False        # embedding / stages / conv4 (calls ``model.features``)
    teacher: bool = False         # a frozen teacher network with a checkpoint
    min_networks: int = 1
    max_networks: Optional[int] = None


@dataclass
class Batch:
    images: torch.Tensor
    labels: torch.Tensor


class Method(nn.Module):
    """Subclasses set ``Params`` and ``needs`` and implement ``losses``."""

    Params = None
    needs = Needs()

    def __init__(self, params, networks: Dict[str, nn.Module], num_classes: int, teacher: Optional[nn.Module] = None):
        super().__init__()
        self.params = params
        self.network_names: List[str] = list(networks)
        self.num_classes = num_classes
        self.teacher = teacher

    def train(self, mode: bool = True):
        # ``self.teacher`` is a registered submodule, so ``Module.train`` would switch the
        # frozen teacher to train mode (BatchNorm batch statistics, running stats updated)
        super().train(mode)
        if self.teacher is not None:
            self.teacher.eval()
        return self

    @classmethod
    def check_config(cls, config) -> None:
        n = len(config.networks)
        if n < cls.needs.min_networks:
            raise ConfigError("networks", f"method {config.method.name} needs at least {cls.needs.min_networks} networks, got {n}")
        if cls.needs.max_networks is not None and n > cls.needs.max_networks:
            raise ConfigError("networks", f"method {config.method.name} takes at most {cls.needs.max_networks} network(s), got {n}")
        if cls.needs.teacher and (config.teacher is None or not config.teacher.checkpoint):
            raise ConfigError("teacher.checkpoint", f"method {config.method.name} needs a teacher {{arch, checkpoint}}")

    def wants_features(self) -> bool:
        """Whether the trainer must call ``features`` (may depend on the params: a zero weight needs nothing)."""
        return self.needs.features

    def losses(self, batch: Batch, outputs: Dict[str, dict], teacher_output: Optional[dict]) -> Dict[str, torch.Tensor]:
        raise NotImplementedError

    def after_step(self, batch: Batch, outputs: Dict[str, dict], teacher_output: Optional[dict]) -> Dict[str, torch.Tensor]:
        """Updates of the method's own modules (discriminators, generators); returns their logged terms."""
        return {}

    def method_state(self) -> dict:
        """State of the method's own modules and optimizers, for checkpoints."""
        return {"modules": self.state_dict()}

    def load_method_state(self, state: dict) -> None:
        self.load_state_dict(state["modules"])


def weighted(terms: Dict[str, torch.Tensor], name: str, weight: float, compute) -> None:
    """Add ``weight * compute()`` as ``terms[name]``; a zero weight skips the computation."""
    if weight != 0.0:
        terms[name] = weight * compute()


def params_dict(params) -> dict:
    return dataclasses.asdict(params)
