"""Gradient-based attention transfer (Zagoruyko & Komodakis 2017, section 3.2; recalled from the
paper: the authors' repository holds the activation-based code only). The attention of a network
on an input is the gradient of its loss with respect to the input, ``J = dL(W, x)/dx``, with L the
batch-mean cross-entropy against the labels.

- ``input_gradient(logits_of, x, labels, create_graph)``: J for the network ``logits_of``; with
  ``create_graph`` the student's J stays differentiable (double backpropagation).
- ``gradient_transfer_loss(j_s, j_t) = 1/2 ||J_S - J_T||_2``: the L2 norm (not squared) of the
  whole batch's difference; the method multiplies by beta.
- ``flip_invariance_loss(j, j_flipped) = 1/2 ||J(x) - flip(J(flip(x)))||_2``: a network's own input
  gradient should mirror with its input (the paper's flip-invariance regulariser, no teacher)."""
from typing import Callable

import torch
import torch.nn.functional as F

from distill.losses.kl_divergence import upcast


def input_gradient(logits_of: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, labels: torch.Tensor,
                   create_graph: bool):
    """(J, the batch-mean cross-entropy) for input ``x`` (a fresh leaf is made of it)."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        loss = F.cross_entropy(upcast(logits_of(x)), labels)
        (grad,) = torch.autograd.grad(loss, x, create_graph=create_graph)
    return grad, loss


def gradient_transfer_loss(j_student: torch.Tensor, j_teacher: torch.Tensor) -> torch.Tensor:
    return 0.5 * torch.linalg.vector_norm(upcast(j_student) - upcast(j_teacher))


def flip_invariance_loss(j: torch.Tensor, j_of_flipped: torch.Tensor) -> torch.Tensor:
    return 0.5 * torch.linalg.vector_norm(upcast(j) - upcast(j_of_flipped).flip(-1))
