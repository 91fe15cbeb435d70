"""Named metrics with directions (see ``base.py``)."""
from distill.evaluators.base import MAX, MIN, Evaluator
from distill.evaluators.top1 import TopOneAccuracy

__all__ = ["MAX", "MIN", "Evaluator", "TopOneAccuracy"]
