"""Named metrics with directions (see ``base.py``); the default evaluator of each task in ``tasks.py``."""
from distill.evaluators.base import MAX, MIN, Evaluator
from distill.evaluators.retrieval import RetrievalEvaluator
from distill.evaluators.tasks import TASKS, Task
from distill.evaluators.top1 import TopOneAccuracy

__all__ = ["MAX", "MIN", "Evaluator", "RetrievalEvaluator", "TASKS", "Task", "TopOneAccuracy"]
