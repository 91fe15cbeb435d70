"""Where a data-free method's training images come from, by name (``method.inputs``):

- ``generator``: DAFL's generator (``distill/models/dafl_generator.py``), trained by the
  method with its own optimiser; its images are in the teacher's normalised input space
  (the generator ends in a BatchNorm without affine parameters, as in the official code).
- ``normal_noise``: z ~ N(0, I) images in that same normalised space, never trained: the
  seed's "normal distribution" baseline and the loss ablation's "no loss" row.

Noise comes from the method's own CPU generator (checkpointed), so a run is reproducible
on any device and resumes with identical numbers."""
from typing import Tuple

import torch
from torch import nn

from distill.models.dafl_generator import DAFLGenerator
from distill.registry import Registry

INPUT_SOURCES: Registry = Registry("method.inputs")


class InputSource(nn.Module):
    """``sample(n, rng, device)`` -> (n, C, H, W) images; ``trainable`` says whether
    gradients reaching the images train the source (then it has its own optimiser)."""
    trainable = False

    def __init__(self, latent_dim: int, image_shape: Tuple[int, int, int], width: int = 128):
        super().__init__()
        self.latent_dim = latent_dim
        self.image_shape = tuple(image_shape)

    def sample(self, n: int, rng: torch.Generator, device) -> torch.Tensor:
        raise NotImplementedError


@INPUT_SOURCES.register("generator")
class GeneratorSource(InputSource):
    trainable = True

    def __init__(self, latent_dim: int, image_shape: Tuple[int, int, int], width: int = 128):
        super().__init__(latent_dim, image_shape)
        channels, height, _ = image_shape
        self.generator = DAFLGenerator(latent_dim, height, channels, width)

    def sample(self, n, rng, device):
        z = torch.randn(n, self.latent_dim, generator=rng).to(device)
        return self.generator(z)


@INPUT_SOURCES.register("normal_noise")
class NormalNoiseSource(InputSource):
    def sample(self, n, rng, device):
        return torch.randn((n,) + self.image_shape, generator=rng).to(device)


def build_source(name: str, latent_dim: int, image_shape, width: int = 128) -> InputSource:
    return INPUT_SOURCES.get(name, "method.inputs")(latent_dim, tuple(image_shape), width)
