"""Distillation methods. A method is one file: a ``Params`` dataclass (its
knobs, validated on load), what it needs from the networks, and ``losses``
returning a dict of named terms already multiplied by their weights. An
ablation is a weight set to zero (the term is then skipped), not a new branch."""
from distill.methods.base import DataNeeds, Method, Needs
from distill.methods.registry import METHODS
from distill.methods import independent, kd, dml, tadml  # noqa: F401  (registers)
from distill.methods import at, sp, fitnet, fsp, snn_mimic, anc, tsanc, ksanc, hksanc  # noqa: F401
from distill.methods import byot, scd, sad, cs_kd, ddgsd, one  # noqa: F401  (self-distillation)
from distill.methods import dafl  # noqa: F401  (data-free)
from distill.methods import darkrank, similarity_l2  # noqa: F401  (metric learning)

__all__ = ["METHODS", "DataNeeds", "Method", "Needs"]
