"""Re-identification metrics of each network's ``embedding`` over a whole retrieval split
(scored in ``ranking.py``): ``map.<net>`` (the official Market-1501 trapezoid AP),
``map_plain.<net>`` (non-interpolated AP), ``rank1/5/10.<net>`` (CMC), all in percent.
With two or more networks the same five for ``concat``: every peer's L2-normalised
embedding side by side, normalised again (each peer weighs the same, whatever its width).

The split's labels are person ids (-1 junk, 0 distractors); its ``extras`` give each
image's ``camera`` and whether it is a ``query`` (the rest is the gallery). With flip
averaging (``data.eval_flip``) the trainer also passes the outputs on horizontally
flipped images, and an image's embedding is the mean of both before normalisation."""
from typing import Dict, List, Optional, Sequence

import torch

from distill.evaluators.base import MAX, Evaluator
from distill.evaluators.ranking import l2_normalise, retrieval_metrics

CONCAT = "concat"
KINDS = ("map", "map_plain", "rank1", "rank5", "rank10")
EXTRAS = ("camera", "query")


class RetrievalEvaluator(Evaluator):
    wants_features = True
    wants_flipped = True
    kinds = KINDS
    reserved_names = (CONCAT,)

    def __init__(self, network_names: Sequence[str]):
        self.names = list(network_names)
        self.reset()

    @staticmethod
    def names_for(network_names: Sequence[str]) -> List[str]:
        groups = list(network_names) + ([CONCAT] if len(network_names) > 1 else [])
        return [f"{kind}.{name}" for name in groups for kind in KINDS]

    def directions(self) -> Dict[str, str]:
        return {name: MAX for name in self.names_for(self.names)}

    def reset(self) -> None:
        self.embeddings: Dict[str, List[torch.Tensor]] = {name: [] for name in self.names}
        self.ids: List[torch.Tensor] = []
        self.cameras: List[torch.Tensor] = []
        self.query: List[torch.Tensor] = []

    def update(self, outputs, labels, extras=None, flipped: Optional[Dict[str, dict]] = None) -> None:
        missing = [key for key in EXTRAS if key not in (extras or {})]
        if missing:
            raise KeyError(f"retrieval evaluation needs the split's extras {', '.join(EXTRAS)} "
                           f"(per-image camera ids and query flags); missing: {', '.join(missing)}")
        for name in self.names:
            embedding = outputs[name]["embedding"].float()
            if flipped is not None:
                embedding = (embedding + flipped[name]["embedding"].float()) / 2
            self.embeddings[name].append(l2_normalise(embedding))
        self.ids.append(labels)
        self.cameras.append(extras["camera"])
        self.query.append(extras["query"].bool())

    def result(self) -> Dict[str, float]:
        if not self.ids:   # nothing evaluated since reset
            return {}
        ids, cameras, query = torch.cat(self.ids), torch.cat(self.cameras), torch.cat(self.query)
        gallery = ~query
        features = {name: torch.cat(parts) for name, parts in self.embeddings.items()}
        if len(self.names) > 1:
            features[CONCAT] = l2_normalise(torch.cat([features[name] for name in self.names], dim=1))
        out = {}
        for group, x in features.items():
            scores = retrieval_metrics(x[query], ids[query], cameras[query], x[gallery], ids[gallery], cameras[gallery])
            out.update({f"{kind}.{group}": scores[kind] for kind in KINDS})
        return out
