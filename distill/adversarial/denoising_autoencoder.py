"""A small denoising autoencoder on the logits, for the ``fc+dae`` discriminator
input. The paper names "FC + DAE" without defining it; this reading is ours:
the DAE encodes noisy logits, is trained to reconstruct the clean ones, and the
discriminator sees the logits together with the DAE's code."""
import torch
from torch import nn


class DenoisingAutoencoder(nn.Module):
    def __init__(self, features: int, hidden: int, noise_std: float):
        super().__init__()
        self.noise_std = noise_std
        self.encoder = nn.Sequential(nn.Linear(features, hidden), nn.LeakyReLU(0.2))
        self.decoder = nn.Linear(hidden, features)

    def code(self, logits: torch.Tensor) -> torch.Tensor:
        if self.training and self.noise_std > 0:
            logits = logits + self.noise_std * torch.randn_like(logits)
        return self.encoder(logits)

    def reconstruction_loss(self, logits: torch.Tensor) -> torch.Tensor:
        clean = logits.detach()
        return (self.decoder(self.code(clean)) - clean).pow(2).mean()
