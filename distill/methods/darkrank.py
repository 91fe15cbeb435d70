"""DarkRank (Chen, Wang, Zhang, AAAI 2018): a frozen teacher's cross-sample
similarity rankings, transferred on the pooled ``embedding`` (each network ranks
in its own space, so the dims may differ):
``ce_weight CE + kd_weight T^2 KL + soft_weight L_soft + hard_weight L_hard``.

- ``L_soft`` (ListNet): cross-entropy between the teacher's and the student's
  Plackett-Luce distributions over all ``list_length``! orders of each query's
  teacher top-``list_length`` list; ``L_hard`` (ListMLE): -log P_S of the
  teacher's full ranking of the batch. Both average over the queries
  (``distill/losses/darkrank.py`` states the conventions): ``queries: all`` (every
  sample of the batch, the default) or ``half`` (the first B // 2 samples, as the
  official code ranks from the paired half of its batch); the candidates are always
  every other sample.
- Defaults: the paper's setting as summarised in seed 004: alpha = beta = 3
  and the hard transfer (as good as the soft one at a fraction of its cost);
  KD off, identity CE on. The weights (1 here) are not known from the paper
  [inference]. The official code's command instead runs the soft transfer
  alone, list length 4, S = -12.25 ||.||^4 (alpha 12.25, beta 4), lr 5e-4, the
  first half of the batch as queries, and a gradient equal to that of
  ``mean CE + (16 / B) L_soft`` (its ``rescale_grad = 1/B`` over a summed CE and a
  ListNet gradient already averaged over queries and scaled by 16): soft weight 2
  at its batch of 8 (the ``darkrank`` sweep's ``official`` preset); "KD +
  DarkRank" is ``kd_weight`` > 0 with T 4.
- A zero weight reads nothing: with soft and hard at 0 the teacher's embedding
  is not computed, with KD also at 0 the teacher does not run."""
from dataclasses import dataclass

from distill.errors import ConfigError
from distill.losses.darkrank import hard_rank_loss, soft_rank_loss
from distill.methods.base import Method, Needs, weighted
from distill.methods.logit_terms import add_logit_terms
from distill.methods.registry import METHODS
from distill.typed_dict import field

TAPS = ("logits", "embedding")
MAX_LIST_LENGTH = 6     # 6! = 720 permutations per query
QUERY_SETS = ("all", "half")


@METHODS.register("darkrank")
class DarkRank(Method):
    @dataclass
    class Params:
        ce_weight: float = field(1.0, ge=0.0)
        kd_weight: float = field(0.0, ge=0.0)
        temperature: float = field(4.0, gt=0.0)
        soft_weight: float = field(0.0, ge=0.0)
        hard_weight: float = field(1.0, ge=0.0)
        list_length: int = field(4, ge=2, le=MAX_LIST_LENGTH)
        alpha: float = field(3.0, gt=0.0)
        beta: float = field(3.0, gt=0.0)
        queries: str = field("all", choices=QUERY_SETS)

    needs = Needs(taps=TAPS, teacher=True, teacher_taps=TAPS)

    @classmethod
    def check_config(cls, config, shapes) -> None:
        super().check_config(config, shapes)
        p, batch = config.method.params, config.data.batch_size
        # a query ranks list_length *other* samples of its batch (only the soft transfer has a list)
        if p.soft_weight > 0 and p.list_length >= batch:
            allowed = f"2 to {min(batch - 1, MAX_LIST_LENGTH)}" if batch >= 3 else "none (data.batch_size below 3)"
            raise ConfigError("method.list_length", f"{p.list_length} needs a batch of more than {p.list_length} "
                                                    f"samples, data.batch_size is {batch}; allowed: {allowed}")

    def _ranks(self) -> bool:
        return self.params.soft_weight > 0 or self.params.hard_weight > 0

    def wants_features(self) -> bool:
        return self._ranks()

    def wants_teacher(self) -> bool:
        return super().wants_teacher() and (self._ranks() or self.params.kd_weight > 0)

    def teacher_taps(self) -> tuple:
        return tuple(t for t, on in (("logits", self.params.kd_weight > 0), ("embedding", self._ranks())) if on)

    def query_count(self, batch_size: int):
        """How many of the batch's first samples are queries (None: all of them)."""
        return max(1, batch_size // 2) if self.params.queries == "half" else None

    def losses(self, batch, outputs, teacher_output):
        p = self.params
        teacher_output = teacher_output or {}
        teacher_logits = teacher_output["logits"].detach() if "logits" in teacher_output else None
        teacher_embedding = teacher_output["embedding"].detach() if "embedding" in teacher_output else None
        terms = {}
        for name in self.network_names:
            out = outputs[name]
            add_logit_terms(terms, name, out["logits"], batch.labels, teacher_logits, p.ce_weight, p.kd_weight,
                            p.temperature)
            queries = self.query_count(len(out["embedding"]))
            weighted(terms, f"soft.{name}", p.soft_weight, lambda: soft_rank_loss(
                out["embedding"], teacher_embedding, p.list_length, p.alpha, p.beta, queries))
            weighted(terms, f"hard.{name}", p.hard_weight, lambda: hard_rank_loss(
                out["embedding"], teacher_embedding, p.alpha, p.beta, queries))
        return terms
