"""DAFL's generator (Chen et al., ICCV 2019), exactly the official one
(huawei-noah/Efficient-Computing, Data-Efficient-Model-Compression/DAFL/DAFL-train.py).

Not registered in the model registry: it maps noise to images, it is not a classifier."""
import torch
from torch import nn
import torch.nn.functional as F


class DAFLGenerator(nn.Module):
    """z (B, latent_dim) -> images (B, channels, image_size, image_size):

    Linear(latent -> 128 (img/4)^2), reshape to 128 x img/4 x img/4, BN(128),
    x2 nearest upsample, conv3x3 128->128, BN(128, eps=0.8), LeakyReLU(0.2),
    x2 nearest upsample, conv3x3 128->64, BN(64, eps=0.8), LeakyReLU(0.2),
    conv3x3 64->C, Tanh, BN(C, affine=False).

    The eps=0.8 quirk: the official code writes ``nn.BatchNorm2d(128, 0.8)``, and
    BatchNorm2d's second positional argument is eps, not momentum (which was
    probably meant). It is kept for fidelity: the published results were obtained
    with it, and it changes the normalisation (a large eps damps it), so "fixing"
    it would be a different generator. The output BN has no affine parameters,
    as in the official code. Submodule names (l1, conv_blocks0/1/2) follow the
    official code so its state dicts load as they are.

    ``width`` (128 in the official code; the second conv has half of it) is the one
    departure, for smoke runs on CPU: at 32x32 the official generator costs about
    113 MFLOPs an image, far more than a LeNet-5 teacher; width 32 costs about 7."""

    def __init__(self, latent_dim: int, image_size: int, channels: int, width: int = 128):
        super().__init__()
        if image_size % 4 != 0:
            raise ValueError(f"DAFLGenerator: image_size {image_size} is not divisible by 4 "
                             "(the generator upsamples img/4 twice by 2)")
        self.latent_dim = latent_dim
        self.image_size = image_size
        self.channels = channels
        self.init_size = image_size // 4
        self.width = width
        half = max(width // 2, 1)
        self.l1 = nn.Sequential(nn.Linear(latent_dim, width * self.init_size ** 2))
        self.conv_blocks0 = nn.Sequential(nn.BatchNorm2d(width))
        self.conv_blocks1 = nn.Sequential(
            nn.Conv2d(width, width, 3, stride=1, padding=1),
            nn.BatchNorm2d(width, eps=0.8),
            nn.LeakyReLU(0.2, inplace=True),
        )
        self.conv_blocks2 = nn.Sequential(
            nn.Conv2d(width, half, 3, stride=1, padding=1),
            nn.BatchNorm2d(half, eps=0.8),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(half, channels, 3, stride=1, padding=1),
            nn.Tanh(),
            nn.BatchNorm2d(channels, affine=False),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.l1(z.view(z.shape[0], -1))
        out = out.view(out.shape[0], self.width, self.init_size, self.init_size)
        img = self.conv_blocks0(out)
        img = F.interpolate(img, scale_factor=2)   # nearest, as the official code
        img = self.conv_blocks1(img)
        img = F.interpolate(img, scale_factor=2)
        return self.conv_blocks2(img)


__all__ = ["DAFLGenerator"]
