"""The contract between the trainer and a method (after mdistiller's
``distillers/_base.py``: a small core, learnable extras joining the optimizer).

Lifecycle, in the order the trainer calls it:

1. ``check_config(config, shapes)`` (classmethod), from the one validation
   function the driver also runs before any Ray work: reject networks that lack
   what the method needs, with one line naming the field.
2. ``__init__(params, ctx)``: ``ctx`` is a ``MethodContext`` (networks, teacher,
   classes, input shape, stage channels, training-set size, ...). Here a method
   declares its learnable extras:
   - ``train_with(network, module)``: trained with that network: it joins the
     network's optimizer and schedule (an adapter, an exit head);
   - ``own_optimizer(name, module, make)``: a module with its own optimizer
     (discriminators, a generator), stepped by the method in ``after_step`` or
     its own ``train_step``.
   Both are checkpointed and restored by this base class. The frozen teacher is
   never a submodule, so its weights are in no trial checkpoint.
3. Every epoch ``on_epoch_start(epoch)`` (0-based; ``self.epoch``) for staged
   training and ramps, then for every batch ``train_step(batch, engine)``. The
   default step runs teacher and networks, sums ``losses`` (a dict of named
   terms, each already weighted), steps the networks' optimizers, then calls
   ``after_step``. A method whose step does not fit (data-free learning)
   overrides ``train_step`` and uses the same ``engine`` tools.
4. ``evaluators()``: extra named metrics (per-exit accuracy, ...) beside the
   trainer's top-1 per network.

Class attributes: ``Params`` (a typed dataclass, validated on load), ``needs``
(``Needs``: taps read, teacher, network count) and ``data`` (``DataNeeds``).
A weight of 0 removes a term and skips its computation (``weighted``)."""
import dataclasses
from typing import Callable, Dict, List, Optional, Tuple

import torch
from torch import nn

from distill.errors import ConfigError
from distill.methods.auxiliary import aux_terms
from distill.methods.context import LOGITS_ONLY, Batch, DataNeeds, MethodContext, Needs

__all__ = ["Batch", "DataNeeds", "Method", "MethodContext", "Needs", "weighted"]


class Method(nn.Module):
    Params = None
    needs = Needs()
    data = DataNeeds()
    # term name -> the params field that weighs it; default: every ``<term>_weight`` field
    term_weights: Optional[Dict[str, str]] = None
    # number fields read only when the method is built (a schedule cannot change them)
    built_from: Tuple[str, ...] = ()

    def __init__(self, params, ctx: MethodContext):
        super().__init__()
        self.params = params
        # plain attributes, not submodules: the trainer owns the networks, and the
        # frozen teacher must stay out of the method's state (and checkpoints)
        object.__setattr__(self, "ctx", ctx)
        object.__setattr__(self, "teacher", ctx.teacher)
        self.network_names: List[str] = ctx.network_names
        self.num_classes = ctx.num_classes
        self.trained_with = nn.ModuleDict()
        self.owned = nn.ModuleDict()
        self.optimizers: Dict[str, torch.optim.Optimizer] = {}
        self.optimizer_lr_fields: Dict[str, str] = {}   # own optimizer -> the params field of its lr
        self.epoch = 0
        self.steps = 0

    # -- declarations -------------------------------------------------------
    def train_with(self, network: str, module: nn.Module) -> nn.Module:
        """``module`` is trained with ``network``: its optimizer, schedule and checkpoint."""
        if network not in self.ctx.networks:
            raise KeyError(f"train_with: {network!r} is not a network ({', '.join(self.network_names)})")
        group = self.trained_with[network] if network in self.trained_with else nn.ModuleList()
        group.append(module)
        self.trained_with[network] = group
        return module

    def own_optimizer(self, name: str, module: nn.Module,
                      make: Callable[[List[nn.Parameter]], torch.optim.Optimizer],
                      lr_field: Optional[str] = None) -> torch.optim.Optimizer:
        """``module`` gets its own optimizer ``make(parameters)``, checkpointed by the base class.
        Call after the method (and so ``module``) is on its device, or let the trainer
        move it first: parameters are moved in place by ``Module.to``. ``lr_field``: the
        params field holding its learning rate, so a schedule changing it reaches the optimizer."""
        self.owned[name] = module
        optimizer = make([p for p in module.parameters() if p.requires_grad])
        self.optimizers[name] = optimizer
        if lr_field is not None:
            self.optimizer_lr_fields[name] = lr_field
        return optimizer

    def set_param(self, field: str, value: float) -> None:
        """A new value of a number field, read live from then on (losses read ``self.params``);
        an own optimizer's learning rate field goes to its parameter groups."""
        setattr(self.params, field, value)
        for name, lr_field in self.optimizer_lr_fields.items():
            if lr_field == field:
                for group in self.optimizers[name].param_groups:
                    group["lr"] = value

    def parameters_trained_with(self, network: str) -> List[nn.Parameter]:
        if network not in self.trained_with:
            return []
        return [p for p in self.trained_with[network].parameters() if p.requires_grad]

    # -- what the trainer asks ------------------------------------------------
    @classmethod
    def check_config(cls, config, shapes) -> None:
        """``shapes``: ``distill.validation.ModelShapes`` (stage channels, classes) of every
        network and the teacher, known without building the models' weights."""
        n = len(config.networks)
        name = config.method.name
        if n < cls.needs.min_networks:
            raise ConfigError("networks", f"method {name} needs at least {cls.needs.min_networks} networks, got {n}")
        if cls.needs.max_networks is not None and n > cls.needs.max_networks:
            raise ConfigError("networks", f"method {name} takes at most {cls.needs.max_networks} network(s), got {n}")
        if cls.needs.teacher and config.teacher is None:
            raise ConfigError("teacher.checkpoint", f"method {name} needs a teacher {{arch, checkpoint}}")

    @classmethod
    def check_teacher_files(cls, config, teacher_checkpoint: str) -> None:
        """Files the method reads beside the teacher's weights (validation calls this once the
        teacher's checkpoint is known and readable); most methods read none."""

    @classmethod
    def weight_fields(cls) -> Dict[str, str]:
        """Which params field weighs which logged term (``ce.net0`` is term ``ce``): an
        ablation sets the field to 0 and the term disappears."""
        if cls.term_weights is not None:
            return dict(cls.term_weights)
        return {f.name[:-len("_weight")]: f.name for f in dataclasses.fields(cls.Params) if f.name.endswith("_weight")}

    @classmethod
    def data_needs(cls, params) -> DataNeeds:
        """What the batches hold; a method whose needs depend on its params overrides this."""
        return cls.data

    def wants_features(self) -> bool:
        """Whether the networks must run ``features`` (may depend on the params: a zero weight reads nothing)."""
        return tuple(self.needs.taps) != LOGITS_ONLY

    def teacher_taps(self) -> tuple:
        """What to read from the teacher this step (may depend on the params or the stage)."""
        return tuple(self.needs.teacher_taps)

    def wants_teacher(self) -> bool:
        return self.teacher is not None and self.needs.teacher

    def on_epoch_start(self, epoch: int) -> None:
        self.epoch = epoch

    def losses(self, batch: Batch, outputs: Dict[str, dict], teacher_output: Optional[dict]) -> Dict[str, torch.Tensor]:
        raise NotImplementedError

    def after_step(self, batch: Batch, outputs: Dict[str, dict], teacher_output: Optional[dict]) -> Dict[str, torch.Tensor]:
        """Updates of the method's own modules (discriminators); returns their logged terms."""
        return {}

    def train_step(self, batch: Batch, engine) -> Dict[str, torch.Tensor]:
        """One optimisation step; returns the logged terms (detached by the trainer)."""
        with engine.autocast():
            teacher_out = engine.run_teacher(batch.images, self.teacher_taps()) if self.wants_teacher() else None
            outputs = engine.run_networks(batch.images, self.wants_features())
            # the auxiliary heads of this forward, taken before a loss could run a network again
            aux = aux_terms(engine.networks, batch.labels, engine.aux_weights)
            terms = {**self.losses(batch, outputs, teacher_out), **aux}
        engine.optimize_networks(terms)
        extra = self.after_step(batch, outputs, teacher_out)
        return {**terms, **extra}

    def evaluators(self) -> list:
        """Extra evaluators (``distill.evaluators.Evaluator``) beside top-1 per network."""
        return []

    @classmethod
    def metric_names(cls, params, shapes) -> List[str]:
        """The names ``evaluators()`` will report (``acc.net0.exit1``), known before any model is
        built, so the driver can check a sweep's metric against them before Ray starts."""
        return []

    # -- checkpoints ----------------------------------------------------------
    def method_state(self) -> dict:
        return {"modules": self.state_dict(), "optimizers": {n: o.state_dict() for n, o in self.optimizers.items()},
                "epoch": self.epoch, "steps": self.steps}

    def load_method_state(self, state: dict) -> None:
        self.load_state_dict(state["modules"])
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])
        self.epoch, self.steps = state["epoch"], state["steps"]


def weighted(terms: Dict[str, torch.Tensor], name: str, weight: float, compute) -> None:
    """Add ``weight * compute()`` as ``terms[name]``; a zero weight skips the computation."""
    if weight != 0.0:
        terms[name] = weight * compute()


def params_dict(params) -> dict:
    return dataclasses.asdict(params)
