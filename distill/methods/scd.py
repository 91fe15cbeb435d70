"""Similarity and Consistency by self-Distillation (seed 002), reconstructed
(the paper's text could not be read; see the README's "SCD: what is
reconstructed"). Every network carries an exit after each stage. For each
chosen stage s, the attention map a_s (as AT) gives the batch similarity
G_s = rownorm(a_s a_s^T) (B x B). Deep teaches shallow, one way:

- ``sim``: sum over the chosen shallow stages of ||G_s - sg G_target||_F^2 / B^2,
  the target being the deepest stage (``direction: deep_to_shallow``) or the
  next deeper chosen stage (``progressive``, SAD's chain);
- ``cons``: sum over shallow exits of T^2 KL(sg p_deep^T || p_s^T);
- ``ce`` (deepest exit) and ``exit_ce`` (every shallow exit): cross-entropy.

Defaults: T = 3, consistency 0.3 (BYOT's values), similarity 3000 (SP's scale)."""
from dataclasses import dataclass
from typing import List, Optional

import torch.nn.functional as F

from distill.errors import ConfigError
from distill.losses import soft_kl, upcast
from distill.losses.attention_similarity import attention_similarity, similarity_gap
from distill.methods.base import Needs, weighted
from distill.methods.exit_heads import EXIT_TAPS, ExitMethod
from distill.methods.registry import METHODS
from distill.typed_dict import field

DIRECTIONS = ("deep_to_shallow", "progressive")


def similarity_targets(stages: List[int], direction: str) -> List[tuple]:
    """(shallow stage, target stage) pairs over the chosen stages, in ascending order."""
    if direction == "deep_to_shallow":
        return [(s, stages[-1]) for s in stages[:-1]]
    return list(zip(stages[:-1], stages[1:]))


def chosen_stages(chosen: Optional[List[int]], count: int, field_name: str = "method.stages") -> List[int]:
    """Stage indices (negative count from the end) -> sorted non-negative ones; None: every stage."""
    if chosen is None:
        return list(range(count))
    out = []
    for index in chosen:
        if not -count <= index < count:
            raise ConfigError(field_name, f"stage {index} does not exist; allowed: {-count}..{count - 1}")
        out.append(index % count)
    if len(set(out)) != len(out) or len(out) < 2:
        raise ConfigError(field_name, f"give two or more distinct stages, got {chosen}")
    return sorted(out)


@METHODS.register("scd")
class SimilarityConsistency(ExitMethod):
    @dataclass
    class Params:
        similarity_weight: float = field(3000.0, ge=0.0)
        consistency_weight: float = field(0.3, ge=0.0)
        temperature: float = field(3.0, gt=0.0)
        direction: str = field("deep_to_shallow", choices=DIRECTIONS)
        stages: Optional[List[int]] = None             # which stages' similarity is used; None: all
        ce_weight: float = field(1.0, ge=0.0)          # the deepest exit
        exit_ce_weight: float = field(1.0, ge=0.0)     # each shallow exit

    needs = Needs(taps=EXIT_TAPS)
    term_weights = {"sim": "similarity_weight", "cons": "consistency_weight", "ce": "ce_weight",
                    "exit_ce": "exit_ce_weight"}

    @classmethod
    def check_config(cls, config, shapes) -> None:
        super().check_config(config, shapes)
        for shape in shapes.networks.values():
            chosen_stages(config.method.params.stages, len(shape.stage_channels))

    def __init__(self, params, ctx):
        super().__init__(params, ctx)
        self.pairs = {name: similarity_targets(chosen_stages(params.stages, len(ctx.stage_channels[name])),
                                               params.direction) for name in self.network_names}

    def similarity_term(self, name: str, stage_maps) -> object:
        similarity = {}

        def of(s):
            if s not in similarity:
                similarity[s] = attention_similarity(stage_maps[s])
            return similarity[s]
        return sum(similarity_gap(of(s), of(t).detach()) for s, t in self.pairs[name])

    def losses(self, batch, outputs, teacher_output):
        p = self.params
        terms = {}
        for name in self.network_names:
            out = outputs[name]
            logits = self.exit_outputs(name, out)[1]
            shallow, deep = logits[:-1], logits[-1]
            target = deep.detach()
            weighted(terms, f"ce.{name}", p.ce_weight, lambda: F.cross_entropy(upcast(deep), batch.labels))
            weighted(terms, f"exit_ce.{name}", p.exit_ce_weight,
                     lambda: sum(F.cross_entropy(upcast(z), batch.labels) for z in shallow))
            weighted(terms, f"cons.{name}", p.consistency_weight,
                     lambda: sum(soft_kl(z, target, p.temperature) for z in shallow))
            weighted(terms, f"sim.{name}", p.similarity_weight, lambda: self.similarity_term(name, out["stage_outputs"]))
        return terms
