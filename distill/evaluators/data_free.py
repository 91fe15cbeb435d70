"""The data-free score: how often the student's argmax agrees with the teacher's on
freshly generated images (``agreement.<net>``, %). It needs no real image, so a
data-free sweep can select on it (``val_agreement.net0``) where a held-out real
validation set is unavailable; ``acc.<net>`` on the real validation split is the
alternative that "uses real data".

It ignores the split it is given: every evaluation draws the same ``samples``
images from the method's input source with a fixed seed (fresh with respect to
training, identical across epochs, so the score moves only with the networks and
the generator, never with the draw). The source runs in eval mode (BatchNorm on its
running statistics), as when sampling from a trained generator."""
from typing import Callable, Dict, List

import torch

from distill.evaluators.base import MAX, Evaluator


class TeacherAgreement(Evaluator):
    def __init__(self, network_names: List[str], sample: Callable[[int, torch.Generator], torch.Tensor],
                 teacher: torch.nn.Module, networks: Dict[str, torch.nn.Module], samples: int, seed: int,
                 batch_size: int):
        self.names = list(network_names)
        self.sample = sample
        self.teacher = teacher
        self.networks = networks
        self.samples = samples
        self.seed = seed
        self.batch_size = batch_size

    @staticmethod
    def names_for(network_names: List[str]) -> List[str]:
        return [f"agreement.{name}" for name in network_names]

    def directions(self) -> Dict[str, str]:
        return {metric: MAX for metric in self.names_for(self.names)}

    def reset(self) -> None:
        pass

    def update(self, outputs, labels, extras=None) -> None:
        pass   # the split's images are not used: the score needs no real data

    @torch.inference_mode()
    def result(self) -> Dict[str, float]:
        rng = torch.Generator().manual_seed(self.seed)
        agree = {name: 0 for name in self.names}
        done = 0
        while done < self.samples:
            n = min(self.batch_size, self.samples - done)
            images = self.sample(n, rng)
            target = self.teacher(images).argmax(1)
            for name in self.names:
                agree[name] += int((self.networks[name](images).argmax(1) == target).sum())
            done += n
        return {f"agreement.{name}": 100.0 * agree[name] / max(self.samples, 1) for name in self.names}
