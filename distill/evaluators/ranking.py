"""Single-query re-identification scoring on plain tensors (the Market-1501 protocol).

For every query the gallery is ranked by ascending Euclidean distance between
L2-normalised features; images at equal distance keep their gallery order (as in a
stable sort: the lower gallery index ranks first). Removed from a query's
ranking before scoring: gallery images of the query's id AND camera (the same
person seen by the same camera is no retrieval) and junk (id -1). Distractors
(id 0) stay in as negatives. The good set is the query's id from another
camera; a query with an empty good set is skipped (it is not counted at all).

With rank_i the position (1-based, in the list after the removals) of the i-th
good image and P_i = i / rank_i:
- ``map_plain``: non-interpolated AP = (1/|good|) sum_i P_i;
- ``map``: the official Market-1501 trapezoid AP = (1/|good|) sum_i (P'_{i-1} + P_i) / 2,
  P'_{i-1} = (i - 1) / (rank_i - 1), or 1 when rank_i = 1;
- ``rank<k>``: CMC, the share of queries whose first good image is within the top k.
All in percent over the scored queries. No Python loop over queries: queries are
scored in chunks whose (chunk x gallery) tensors stay within a fixed element budget, and
the gallery is never sorted (see ``_score_chunk``)."""
from dataclasses import dataclass
from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F

JUNK_ID = -1
# (queries in a chunk) x (gallery size) is kept under this many elements: ~0.2 GB of
# distances, keys and counts at a time, whatever the split size
CHUNK_ELEMENTS = 1 << 23


def l2_normalise(features: torch.Tensor) -> torch.Tensor:
    return F.normalize(features.float(), dim=1)


def squared_distances(query: torch.Tensor, gallery: torch.Tensor) -> torch.Tensor:
    """(Q, G) squared Euclidean distances between unit-norm rows: 2 - 2 cos, in the order of the
    distance itself (identical rows may come out a rounding error below 0)."""
    return 2.0 - 2.0 * (query @ gallery.T)


@dataclass
class QueryScores:
    """Per query: whether it was scored (a non-empty good set), both APs (float64) and the
    rank of its first good image (1-based, in the list after the removals; 0 when skipped)."""
    scored: torch.Tensor      # bool (Q,)
    ap: torch.Tensor          # float64 (Q,), trapezoid (official)
    ap_plain: torch.Tensor    # float64 (Q,), non-interpolated
    first_rank: torch.Tensor  # int64 (Q,)


def _ranking_keys(distances: torch.Tensor) -> torch.Tensor:
    """int64 keys whose order is (distance, gallery index): a float32 distance >= 0 orders like
    its bit pattern, so the pattern goes in the high 32 bits and the index in the low ones;
    every key differs, and a tie in distance is settled by the index. Distances below 0 are
    rounding residue of identical features and count as 0."""
    keys = distances.clamp_min_(0.0).view(torch.int32).long()
    keys <<= 32
    keys |= torch.arange(distances.shape[1], device=distances.device)
    return keys


def _score_chunk(distances: torch.Tensor, query_ids: torch.Tensor, query_cams: torch.Tensor,
                 gallery_ids: torch.Tensor, gallery_cams: torch.Tensor) -> QueryScores:
    # ``distances`` is this chunk's own (clamped in place). No sort of the gallery: only the
    # good images' ranks matter. The good images' keys are sorted per query (a few dozen),
    # every other kept image finds by binary search how many good images rank before it, and
    # a histogram of those counts gives, for the i-th good image, how many kept non-good
    # images precede it: rank_i = i + that number.
    n, device = distances.shape[0], distances.device
    keys = _ranking_keys(distances)
    same_id = gallery_ids.unsqueeze(0) == query_ids.unsqueeze(1)
    kept = ~(same_id & (gallery_cams.unsqueeze(0) == query_cams.unsqueeze(1))) & (gallery_ids != JUNK_ID).unsqueeze(0)
    good = same_id & kept
    n_good = good.sum(1)
    most = int(n_good.max()) if n > 0 else 0
    scored = n_good > 0
    zeros = torch.zeros(n, dtype=torch.float64, device=device)
    if most == 0:
        return QueryScores(scored, zeros, zeros.clone(), torch.zeros(n, dtype=torch.int64, device=device))
    rows, cols = good.nonzero(as_tuple=True)             # row-major
    slot = torch.arange(len(rows), device=device) - (torch.cumsum(n_good, 0) - n_good)[rows]
    good_keys = torch.full((n, most), torch.iinfo(torch.int64).max, dtype=torch.int64, device=device)
    good_keys[rows, slot] = keys[rows, cols]
    good_keys = good_keys.sort(dim=1).values             # padding (the largest key) last
    before = torch.searchsorted(good_keys, keys)         # good images ranked before each image
    before.masked_fill_(~(kept & ~good), most + 1)       # only kept non-good images are counted
    before += (torch.arange(n, device=device) * (most + 2)).unsqueeze(1)
    histogram = torch.bincount(before.view(-1), minlength=n * (most + 2)).view(n, most + 2)
    i = torch.arange(1, most + 1, device=device, dtype=torch.float64).unsqueeze(0)   # (1, most)
    rank = i + torch.cumsum(histogram[:, :most], dim=1).double()
    is_good = i <= n_good.unsqueeze(1)
    precision = i / rank
    previous = torch.where(rank > 1, (i - 1) / (rank - 1).clamp_min(1), torch.ones_like(rank))
    denominator = n_good.double().clamp_min(1).unsqueeze(1)
    ap_plain = torch.where(is_good, precision / denominator, 0.0).sum(1)
    ap = torch.where(is_good, (previous + precision) / 2 / denominator, 0.0).sum(1)
    first_rank = torch.where(scored, rank[:, 0].long(), 0)
    return QueryScores(scored, ap, ap_plain, first_rank)


def score_queries(query: torch.Tensor, query_ids: torch.Tensor, query_cams: torch.Tensor,
                  gallery: torch.Tensor, gallery_ids: torch.Tensor, gallery_cams: torch.Tensor,
                  chunk: Optional[int] = None) -> QueryScores:
    """Per-query scores; ``query`` (Q, D) and ``gallery`` (G, D) are L2-normalised here."""
    query, gallery = l2_normalise(query), l2_normalise(gallery)
    if chunk is None:
        chunk = max(1, CHUNK_ELEMENTS // max(len(gallery), 1))
    parts = [_score_chunk(squared_distances(query[s:s + chunk], gallery), query_ids[s:s + chunk],
                          query_cams[s:s + chunk], gallery_ids, gallery_cams)
             for s in range(0, len(query), chunk)]
    if not parts:
        empty = torch.zeros(0, device=query.device)
        return QueryScores(empty.bool(), empty.double(), empty.double(), empty.long())
    return QueryScores(*(torch.cat([getattr(p, f) for p in parts]) for f in ("scored", "ap", "ap_plain", "first_rank")))


def summarise(scores: QueryScores, ranks: Sequence[int] = (1, 5, 10)) -> Dict[str, float]:
    """``map``, ``map_plain`` and ``rank<k>`` in percent over the scored queries; all 0 when no
    query has a good match (nothing was retrieved)."""
    count = int(scores.scored.sum())
    if count == 0:
        return {"map": 0.0, "map_plain": 0.0, **{f"rank{k}": 0.0 for k in ranks}}
    first = scores.first_rank[scores.scored]
    out = {"map": 100.0 * float(scores.ap[scores.scored].sum()) / count,
           "map_plain": 100.0 * float(scores.ap_plain[scores.scored].sum()) / count}
    for k in ranks:
        out[f"rank{k}"] = 100.0 * int((first <= k).sum()) / count
    return out


def retrieval_metrics(query, query_ids, query_cams, gallery, gallery_ids, gallery_cams,
                      ranks: Sequence[int] = (1, 5, 10), chunk: Optional[int] = None) -> Dict[str, float]:
    return summarise(score_queries(query, query_ids, query_cams, gallery, gallery_ids, gallery_cams, chunk), ranks)
