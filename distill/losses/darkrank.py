"""DarkRank (Chen, Wang, Zhang, AAAI 2018): transfer of cross-sample similarity
*rankings* from a frozen teacher's embedding space to the student's.

Score. Every sample q of the batch is a query; every other sample i is a
candidate with score ``S(x_q, x_i) = -alpha * ||x_q - x_i||_2 ** beta`` on
L2-normalised embeddings, computed by each network in its own space (teacher
and student embedding dims may differ: only the order and the score gaps move).

- The paper's setting is alpha = 3, beta = 3 (the defaults here).
- The official code scales the normalised embedding by sqrt(3.5) and raises
  the *squared* distance to the power 2: S = -(3.5 ||.||^2)^2 = -12.25 ||.||^4,
  i.e. alpha = 12.25, beta = 4.

Plackett-Luce. The probability of a permutation pi of a list under scores S is
``prod_i exp S_pi(i) / sum_{k >= i} exp S_pi(k)``.

- Soft transfer (ListNet): for each query the list is the teacher's
  ``list_length`` nearest other samples (n = 4 by default); the loss is the
  **cross-entropy** ``-sum_pi P_T(pi) log P_S(pi)`` over all n! permutations of
  that list, as the official code computes it. The paper writes KL(P_T || P_S),
  which differs by the teacher's entropy: the same gradient, a value that does
  not reach 0 at a perfect match. The candidate *set* is what matters: the sum
  runs over all its orders, so ties at the n-th neighbour can swap a member,
  nothing else.
- Hard transfer (ListMLE): ``-log P_S(pi_T)`` with pi_T the teacher's ranking
  (ascending teacher distance, ties by index) of all B - 1 other samples: a
  sort and a reverse cumulative logsumexp, no enumeration.

Queries: every sample of the batch by default; both losses average over the
queries. The official code uses only the first half of each batch (the paired
half of its identity-pair iterator): ``queries=B // 2`` reproduces that. The
candidates are always all other samples of the batch. The teacher's embedding
is used as given (callers detach it); losses run in at least float32."""
import functools
import itertools
from typing import Optional

import torch
import torch.nn.functional as F

from distill.losses.kl_divergence import upcast


def squared_distances(embedding: torch.Tensor) -> torch.Tensor:
    """(B, B) squared Euclidean distances between the L2-normalised rows; the
    diagonal is exactly 0."""
    x = F.normalize(upcast(embedding), dim=1)
    norms = x.pow(2).sum(1)
    sq = (norms[:, None] + norms[None, :] - 2.0 * x @ x.t()).clamp_min(0.0)
    return sq.masked_fill(torch.eye(len(x), dtype=torch.bool, device=x.device), 0.0)


def similarity_scores(embedding: torch.Tensor, alpha: float = 3.0, beta: float = 3.0) -> torch.Tensor:
    """(B, B) scores ``-alpha * ||x_q - x_i||^beta`` of the normalised rows (row q: the query)."""
    sq = squared_distances(embedding)
    # ||.||^beta = (||.||^2)^(beta/2); where the distance is 0 its power's gradient
    # is 0 or infinite (beta < 2), so it is kept out of the power altogether
    positive = sq > 0
    powered = torch.where(positive, sq, torch.ones_like(sq)).pow(beta / 2.0)
    return -alpha * torch.where(positive, powered, torch.zeros_like(sq))


def plackett_luce_log_prob(scores: torch.Tensor) -> torch.Tensor:
    """log P(order | scores) under Plackett-Luce, where ``scores[..., i]`` is the score
    of the item placed at position i: ``sum_i S_i - logsumexp_{k >= i} S_k``."""
    tail_lse = torch.logcumsumexp(scores.flip(-1), dim=-1).flip(-1)
    return (scores - tail_lse).sum(-1)


@functools.lru_cache(maxsize=None)
def _permutations(n: int, device: torch.device) -> torch.Tensor:
    return torch.tensor(list(itertools.permutations(range(n))), dtype=torch.long, device=device)


def permutation_index(n: int, device=None) -> torch.Tensor:
    """(n!, n): every permutation of 0..n-1, in lexicographic order; built once per (n, device)."""
    return _permutations(n, torch.device(device) if device is not None else torch.device("cpu"))


def _query_rows(batch: int, queries: Optional[int]) -> int:
    if queries is None:
        return batch
    if not 1 <= queries <= batch:
        raise ValueError(f"queries must be in 1..{batch}, got {queries}")
    return queries


def teacher_ranking(teacher_embedding: torch.Tensor) -> torch.Tensor:
    """(B, B-1): for each query, the other samples by ascending teacher distance
    (nearest first; equal distances by index)."""
    sq = squared_distances(teacher_embedding)
    sq = sq.masked_fill(torch.eye(len(sq), dtype=torch.bool, device=sq.device), float("inf"))
    return torch.sort(sq, dim=1, stable=True).indices[:, :-1]


def soft_rank_loss(student_embedding: torch.Tensor, teacher_embedding: torch.Tensor, list_length: int = 4,
                   alpha: float = 3.0, beta: float = 3.0, queries: Optional[int] = None) -> torch.Tensor:
    """ListNet cross-entropy ``-sum_pi P_T(pi) log P_S(pi)`` over every permutation of each
    query's teacher top-``list_length`` list, averaged over the queries."""
    batch = len(student_embedding)
    if list_length >= batch:
        raise ValueError(f"list_length {list_length} needs a batch of more than {list_length}, got {batch}")
    rows = _query_rows(batch, queries)
    candidates = teacher_ranking(teacher_embedding)[:rows, :list_length]            # (Q, n)
    perms = candidates[:, permutation_index(list_length, candidates.device)]        # (Q, n!, n)
    query = torch.arange(rows, device=candidates.device)[:, None, None]
    log_p_t = plackett_luce_log_prob(similarity_scores(teacher_embedding, alpha, beta)[query, perms])
    log_p_s = plackett_luce_log_prob(similarity_scores(student_embedding, alpha, beta)[query, perms])
    return -(log_p_t.exp() * log_p_s).sum(-1).mean()


def hard_rank_loss(student_embedding: torch.Tensor, teacher_embedding: torch.Tensor, alpha: float = 3.0,
                   beta: float = 3.0, queries: Optional[int] = None) -> torch.Tensor:
    """ListMLE ``-log P_S(pi_T)``, pi_T the teacher's ranking of all other samples,
    averaged over the queries."""
    rows = _query_rows(len(student_embedding), queries)
    order = teacher_ranking(teacher_embedding)[:rows]                                 # (Q, B-1)
    scores = similarity_scores(student_embedding, alpha, beta)[:rows].gather(1, order)
    return -plackett_luce_log_prob(scores).mean()
