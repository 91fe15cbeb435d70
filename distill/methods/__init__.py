"""Distillation methods. A method is one file: a ``Params`` dataclass (its
knobs, validated on load), what it needs from the networks, and ``losses``
returning a dict of named terms already multiplied by their weights. An
ablation is a weight set to zero (the term is then skipped), not a new branch.

Every module of this package is imported here, so a new method file registers
itself (``@METHODS.register("name")``) without an edit anywhere else."""
import importlib
import pkgutil

from distill.methods.base import DataNeeds, Method, Needs
from distill.methods.registry import METHODS

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["METHODS", "DataNeeds", "Method", "Needs"]
