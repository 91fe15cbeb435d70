"""Pad-and-random-crop plus horizontal flip, applied to a whole batch of
tensors at once (on the GPU when the data lives there), not per image in PIL."""
import torch
import torch.nn.functional as F


def random_crop_flip(images: torch.Tensor, padding: int, flip: bool, generator: torch.Generator) -> torch.Tensor:
    """``images`` (B, C, H, W), any dtype. Random numbers come from ``generator``
    (a CPU generator, so a run is reproducible and resumable on any device)."""
    batch, _, height, width = images.shape
    out = images
    if padding > 0:
        padded = F.pad(images, (padding, padding, padding, padding))
        offsets = torch.randint(0, 2 * padding + 1, (2, batch), generator=generator).to(images.device)
        rows = (offsets[0][:, None] + torch.arange(height, device=images.device))[:, :, None]
        cols = (offsets[1][:, None] + torch.arange(width, device=images.device))[:, None, :]
        index = torch.arange(batch, device=images.device)[:, None, None]
        out = padded.permute(0, 2, 3, 1)[index, rows, cols].permute(0, 3, 1, 2)
    if flip:
        mask = (torch.rand(batch, generator=generator) < 0.5).to(images.device)
        out = torch.where(mask[:, None, None, None], out.flip(3), out)
    return out
