"""Resizing a whole uint8 image set at load time (MNIST and USPS to LeNet-5's 32x32)."""
from typing import Tuple

import torch
import torch.nn.functional as F

CHUNK = 8192   # images per interpolation call: bounds the float copy (8192 x 32 x 32 x 4 bytes = 32 MiB a channel)


def resize_u8(images: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of uint8 (N, C, H, W) images to ``size``, as torchvision's ``Resize`` on the
    PIL images of the reference pipelines (half-pixel centres, no antialiasing: these are upsamplings),
    computed in float and rounded back to uint8."""
    if tuple(images.shape[-2:]) == tuple(size):
        return images
    out = torch.empty(images.shape[:2] + tuple(size), dtype=torch.uint8)
    for start in range(0, len(images), CHUNK):
        chunk = images[start:start + CHUNK].float()
        resized = F.interpolate(chunk, size=tuple(size), mode="bilinear", align_corners=False, antialias=False)
        out[start:start + CHUNK] = resized.round_().clamp_(0, 255).to(torch.uint8)
    return out
