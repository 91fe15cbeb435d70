"""The direct transfer DarkRank compares its ranking losses against: the student's
pairwise similarity scores regress onto the teacher's. ``S = -alpha ||x_q - x_i||^beta``
on L2-normalised embeddings (``distill.losses.darkrank.similarity_scores``, each
network in its own space); loss = mean over the B(B-1) off-diagonal pairs of
``(S_s - S_t)^2`` (the diagonal is 0 in both). Unlike the ranking losses it also
transfers the scores' scale, not only their order. The target is used as given:
callers detach it."""
import torch

from distill.losses.darkrank import similarity_scores


def similarity_l2_loss(student_embedding: torch.Tensor, teacher_embedding: torch.Tensor, alpha: float = 3.0,
                       beta: float = 3.0) -> torch.Tensor:
    batch = len(student_embedding)
    if batch < 2:
        raise ValueError(f"similarity_l2_loss needs a batch of 2 or more, got {batch}")
    diff = similarity_scores(student_embedding, alpha, beta) - similarity_scores(teacher_embedding, alpha, beta)
    # the diagonal is exactly 0 on both sides, so the full sum is the off-diagonal sum
    return diff.pow(2).sum() / (batch * (batch - 1))
