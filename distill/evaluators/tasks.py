"""What a data set's evaluation splits are for (``DataInfo.task``) decides the trainer's
default evaluator and the metric the per-run summary lines aggregate:

- ``classification``: labels are classes; ``TopOneAccuracy`` (``acc.<net>``, ``loss.<net>``),
  summarised as ``val_acc.mean``, ``val_acc.max``, ``best_val_acc.max``;
- ``retrieval``: labels are person ids with per-image cameras and query flags;
  ``RetrievalEvaluator`` (``map.<net>``, ``map_plain.<net>``, ``rank1/5/10.<net>``),
  summarised as ``val_map.mean``, ``val_map.max``, ``best_val_map.max``.

Validation reads the same entry, so what a run reports is known before any model is built."""
from dataclasses import dataclass
from typing import List, Sequence, Type

from distill.evaluators.base import Evaluator
from distill.evaluators.retrieval import RetrievalEvaluator
from distill.evaluators.top1 import TopOneAccuracy
from distill.registry import Registry


@dataclass(frozen=True)
class Task:
    evaluator: Type[Evaluator]   # built with the network names; has ``names_for(network_names)``
    primary: str                 # the metric kind of the aggregate lines (``val_<primary>.mean``)

    def metric_names(self, network_names: Sequence[str]) -> List[str]:
        return self.evaluator.names_for(list(network_names))

    def build(self, network_names: Sequence[str]) -> Evaluator:
        return self.evaluator(list(network_names))


TASKS: Registry = Registry("task")
TASKS.register("classification")(Task(TopOneAccuracy, primary="acc"))
TASKS.register("retrieval")(Task(RetrievalEvaluator, primary="map"))


def tasks_of_kind(kind: str) -> List[str]:
    """The tasks whose default evaluator reports metrics of ``kind`` (``acc`` -> classification)."""
    return [name for name in TASKS.names() if kind in TASKS.get(name).evaluator.kinds]
