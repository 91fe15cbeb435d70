"""The tools a method's ``train_step`` uses, built by the trainer: mixed
precision, running the networks and the teacher (under ``inference_mode`` unless
the method trains something through it), and stepping the networks' optimizers.
The default step (``Method.train_step``) and a method's own step (data-free
learning) use the same tools, so precision and teacher handling stay in one place."""
import contextlib
from collections.abc import Sequence
from typing import Dict, Iterable, Optional

import torch
from torch import nn


class ClonedOnRead(Sequence):
    """A list of inference-mode maps that hands out a normal-tensor copy of an item
    when it is read (once): a method reading one of four stages copies one."""

    def __init__(self, items):
        self._items = list(items)
        self._copies = {}

    def __len__(self):
        return len(self._items)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        index = index % len(self._items)
        if index not in self._copies:
            self._copies[index] = self._items[index].clone()
        return self._copies[index]


def _usable_outside_inference(value):
    """Inference-mode tensors cannot be saved for backward (``mse_loss(student, t)``
    would raise), so the taps a method reads become normal tensors (copied when read)."""
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, (list, tuple)):
        return ClonedOnRead(value)
    return value


class StepEngine:
    def __init__(self, networks: Dict[str, nn.Module], teacher: Optional[nn.Module],
                 optimizers: Dict[str, torch.optim.Optimizer], amp_dtype, device: torch.device,
                 teacher_taps=("logits",), teacher_grad: bool = False,
                 aux_weights: Optional[Dict[str, float]] = None):
        self.networks = networks
        self.teacher = teacher
        self.optimizers = optimizers
        self.amp_dtype = amp_dtype
        self.device = device
        self.teacher_taps = tuple(teacher_taps)
        self.teacher_grad = teacher_grad
        # per network: the weight of its auxiliary heads' loss (``distill/methods/auxiliary.py``); absent: none
        self.aux_weights: Dict[str, float] = dict(aux_weights or {})
        self.last_total: Optional[torch.Tensor] = None

    def autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    @staticmethod
    def forward(net: nn.Module, images: torch.Tensor, features: bool) -> dict:
        return net.features(images) if features else {"logits": net(images)}

    def run_networks(self, images: torch.Tensor, features: bool, names: Optional[Iterable[str]] = None) -> Dict[str, dict]:
        names = self.networks if names is None else names
        return {name: self.forward(self.networks[name], images, features) for name in names}

    def run_teacher(self, images: torch.Tensor, taps: Optional[Iterable[str]] = None) -> dict:
        """The teacher's ``taps`` (default: the method's declared ``teacher_taps``)."""
        taps = self.teacher_taps if taps is None else tuple(taps)
        features = taps != ("logits",)
        if self.teacher_grad:
            # gradients flow through the teacher to its input (a generator); its own weights are frozen
            return self.forward(self.teacher, images, features)
        with torch.inference_mode():
            out = self.forward(self.teacher, images, features)
        return {key: _usable_outside_inference(out[key]) for key in taps}

    def step(self, loss: torch.Tensor, optimizers: Iterable[torch.optim.Optimizer]) -> None:
        optimizers = list(optimizers)
        for opt in optimizers:
            opt.zero_grad(set_to_none=True)
        loss.backward()
        for opt in optimizers:
            opt.step()

    def optimize_networks(self, terms: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Sum the weighted terms, backpropagate once, step every network's optimizer
        (which also holds the modules trained with that network)."""
        if not terms:   # every weight is 0 (an ablation's corner): nothing to learn this step
            self.last_total = torch.zeros((), device=self.device)
            return self.last_total
        total = sum(terms.values())
        self.step(total, self.optimizers.values())
        self.last_total = total.detach()
        return total
