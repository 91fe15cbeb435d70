"""The one validation path for a resolved run config. The driver runs
``validate_run`` on every trial variant before any Ray work and the trainer
calls it again, so no config error surfaces first inside a trial: every
problem is one ``ConfigError`` line naming the field.

Model shapes come from building each architecture once per process and shape (on the
CPU: on the ``meta`` device the first random initialisation imports torch's compiler,
1.5 s the driver otherwise never spends), so checks such as "FSP needs equal channels"
or "the teacher has another class count" cost milliseconds after the first."""
import functools
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from distill.errors import ConfigError
from distill.teachers import TeacherNotTrained


@dataclass(frozen=True)
class ModelShape:
    arch: str
    num_classes: int
    stem_channels: int
    stage_channels: Tuple[int, ...]
    embedding_dim: int
    input_size: Optional[Tuple[int, int]] = None   # the one image size the model is built for (LeNet, MLPs)


@dataclass
class ModelShapes:
    """Shapes of every trained network (by name) and of the teacher, for ``Method.check_config``."""
    networks: Dict[str, ModelShape]
    teacher: Optional[ModelShape]
    num_classes: int
    in_channels: int
    image_size: Tuple[int, int]
    task: str = "classification"   # the data set's (``DataInfo.task``): what its evaluation splits score


@functools.lru_cache(maxsize=None)
def model_shape(arch: str, num_classes: int, in_channels: int, field: str) -> ModelShape:
    from distill.models import build_model

    # the caller's random numbers untouched: whether this process built the shape before (the
    # cache) must not change the weights a run initialises next (a spawned rank did, without it)
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        model = build_model(arch, num_classes, in_channels, field)
    size = getattr(model, "input_size", None)
    return ModelShape(arch, num_classes, getattr(model, "stem_channels", 0),
                      tuple(getattr(model, "stage_channels", ())), getattr(model, "embedding_dim", 0),
                      tuple(size) if size is not None else None)


def check_input_size(shape: ModelShape, data_name: str, image_size: Tuple[int, int], field: str) -> None:
    """A model built for one image size (an MLP's first layer, LeNet's 1x1 last map) on a data set of another
    is one line naming its arch field."""
    if shape.input_size is None or tuple(shape.input_size) == tuple(image_size):
        return
    from distill.data import DATA_INFO

    h, w = shape.input_size
    fitting = [n for n in DATA_INFO.names() if tuple(DATA_INFO.get(n).image_size) == (h, w)]
    raise ConfigError(field, f"{shape.arch} is built for {h}x{w} images; data set {data_name} has "
                             f"{image_size[0]}x{image_size[1]}; allowed: a data set of {h}x{w} images "
                             f"({', '.join(fitting) or 'none registered'})")


def _expected_state(arch: str, num_classes: int, in_channels: int) -> Dict[str, torch.Size]:
    from distill.models import build_model

    with torch.device("meta"):
        model = build_model(arch, num_classes, in_channels)
    return {k: v.shape for k, v in model.state_dict().items()}


def check_weights_fit(state: dict, arch: str, num_classes: int, in_channels: int, field: str, path: str) -> None:
    """A checkpoint's tensors must fit the architecture (a teacher trained on another class count fails here)."""
    expected = _expected_state(arch, num_classes, in_channels)
    missing = [k for k in expected if k not in state]
    if missing:
        raise ConfigError(field, f"{path} does not hold {arch} weights (missing {missing[0]}"
                                 f"{f' and {len(missing) - 1} more' if len(missing) > 1 else ''})")
    # load_state_dict is strict: weights of a deeper model of the same family (resnet14 into resnet8)
    # hold every expected key, and more
    unexpected = [k for k in state if k not in expected]
    if unexpected:
        raise ConfigError(field, f"{path} does not hold {arch} weights (unexpected {unexpected[0]}"
                                 f"{f' and {len(unexpected) - 1} more' if len(unexpected) > 1 else ''})")
    for key, shape in expected.items():
        got = tuple(getattr(state[key], "shape", ()))
        if got != tuple(shape):
            hint = f"; a model for {num_classes} classes was expected" if key.endswith(("fc.weight", "fc.bias")) else ""
            raise ConfigError(field, f"{path}: {key} has shape {got}, {arch} needs {tuple(shape)}{hint}")


def teacher_checkpoint(config) -> Optional[str]:
    """Where the teacher's weights are: its checkpoint, or its entry in the teacher store."""
    from distill.teachers import resolve_teacher_checkpoint

    return resolve_teacher_checkpoint(config)


def load_checked_weights(spec: str, network_name: str, arch: str, num_classes: int, in_channels: int,
                         field: str) -> dict:
    from distill.checkpoint import load_network_weights

    state = load_network_weights(spec, network_name, field)
    check_weights_fit(state, arch, num_classes, in_channels, field, spec.partition("#")[0])
    return state


REPORTED_SPLITS = ("val_", "best_val_", "test_")


def reported_metrics(config, shapes: ModelShapes) -> List[str]:
    """Every metric name a run of ``config`` reports each epoch (what a sweep may select on)."""
    from distill.evaluators.tasks import TASKS
    from distill.methods import METHODS

    method_cls = METHODS.get(config.method.name, "method.name")
    task = TASKS.get(shapes.task)
    evaluated = task.metric_names(list(shapes.networks))
    evaluated += method_cls.metric_names(config.method.params, shapes)
    out = [split + name for name in evaluated for split in REPORTED_SPLITS]
    if config.teacher is not None:   # the frozen teacher, scored once at the end
        out += [f"test_{name}" for name in task.metric_names(["teacher"])]
    aggregates = [f"val_{task.primary}.mean", f"val_{task.primary}.max", f"best_val_{task.primary}.max"]
    return out + aggregates + [f"params.{name}" for name in shapes.networks]


def check_task(config, shapes: ModelShapes, method_cls) -> None:
    """What the run evaluates fits the data set's task (``distill/evaluators/tasks.py``): a method's
    own metrics need the labels they score (exit accuracy needs classes, not person ids), flip
    averaging needs an evaluator that takes flipped outputs, and no network name may make the
    task's evaluator report one metric name twice (a network called ``concat`` beside the
    retrieval evaluator's ``concat`` of all networks)."""
    from distill.data import DATA_INFO
    from distill.evaluators.tasks import TASKS, tasks_of_kind

    task, data = TASKS.get(shapes.task), config.data.name
    # a kind no task's evaluator reports (DAFL's ``agreement``) is the method's own business
    foreign = [m for m in method_cls.metric_names(config.method.params, shapes)
               if m.split(".", 1)[0] not in task.evaluator.kinds and tasks_of_kind(m.split(".", 1)[0])]
    if foreign:
        tasks = tasks_of_kind(foreign[0].split(".", 1)[0])
        fitting = [n for n in DATA_INFO.names() if DATA_INFO.get(n).task in tasks]
        raise ConfigError("method.name", f"method {config.method.name} reports {foreign[0]}, a {' or '.join(tasks)} "
                                         f"metric, but data set {data} is a {shapes.task} task; allowed: a "
                                         f"{' or '.join(tasks)} data set ({', '.join(fitting)}), or a method "
                                         f"without metrics of its own")
    if config.data.eval_flip and not task.evaluator.wants_flipped:
        fitting = [n for n in DATA_INFO.names() if TASKS.get(DATA_INFO.get(n).task).evaluator.wants_flipped]
        raise ConfigError("data.eval_flip", f"data set {data} is a {shapes.task} task, whose evaluator averages "
                                            f"no flipped outputs; allowed: false, or a data set whose task does "
                                            f"({', '.join(fitting) or 'none registered'})")
    names = task.metric_names(list(shapes.networks))
    twice = [n for n in names if names.count(n) > 1]
    if twice:
        raise ConfigError("networks", f"network name {twice[0].split('.', 1)[1]} would make the {shapes.task} "
                                      f"evaluator report {twice[0]} twice; allowed: any other name")


def check_metrics(config, shapes: ModelShapes, metrics: Sequence[str], field: str = "metric") -> None:
    """A sweep's metric must be one its trials report: one line listing those of this config."""
    known = reported_metrics(config, shapes)
    for metric in metrics:
        if metric not in known:
            selectable = [m for m in known if m.startswith("val_")] + [m for m in known if m.startswith("params.")]
            raise ConfigError(field, f"{metric} is not reported by method {config.method.name} on "
                                     f"{', '.join(n.arch for n in config.networks)} with data set "
                                     f"{config.data.name} ({shapes.task}); allowed: {', '.join(selectable)}")


def validate_run(config, check_files: bool = True, pending_teacher_ok: bool = False,
                 metrics: Sequence[str] = ()) -> ModelShapes:
    """Every check a run's config must pass before training; returns the model shapes.

    ``check_files``: also check data files and read the checkpoints it names.
    ``pending_teacher_ok``: the driver validates before the teacher store has trained a
    teacher that will exist by the time trials start.
    ``metrics``: the names a sweep selects on; each must be one the run reports."""
    from distill.data import DATA_INFO, DATASETS, check_data
    from distill.data.class_balanced import check_classes_per_batch
    from distill.data_parallel import check_workers
    from distill.data.registry import check_attribute
    from distill import hyper_schedule
    from distill.data.transfer import check_transfer
    from distill.methods import METHODS

    DATASETS.get(config.data.name, "data.name")
    info = DATA_INFO.get(config.data.name, "data.name")
    check_attribute(config.data)   # static: also when files are not checked
    if check_files:
        check_data(config.data)
    check_workers(config)
    if config.data.classes_per_batch:
        check_classes_per_batch(config.data.classes_per_batch, config.data.batch_size, info.num_classes)
    names = [n.name for n in config.networks]
    if len(set(names)) != len(names):
        raise ConfigError("networks", f"network names must be unique, got {names}")
    networks = {n.name: model_shape(n.arch, info.num_classes, info.in_channels, f"networks[{i}].arch")
                for i, n in enumerate(config.networks)}
    teacher = None
    if config.teacher is not None:
        teacher = model_shape(config.teacher.arch, info.num_classes, info.in_channels, "teacher.arch")
    for i, n in enumerate(config.networks):
        check_input_size(networks[n.name], config.data.name, info.image_size, f"networks[{i}].arch")
    if teacher is not None:
        check_input_size(teacher, config.data.name, info.image_size, "teacher.arch")
    shapes = ModelShapes(networks, teacher, info.num_classes, info.in_channels, info.image_size, info.task)
    method_cls = METHODS.get(config.method.name, "method.name")
    method_cls.check_config(config, shapes)
    hyper_schedule.parsed(config, method_cls)
    check_task(config, shapes, method_cls)
    check_transfer(config.data, method_cls.data_needs(config.method.params), config.method.name)
    check_metrics(config, shapes, metrics)
    if check_files:
        for i, net in enumerate(config.networks):
            if net.pretrained:
                from distill.models.pretrained import check_pretrained

                check_pretrained(net.pretrained, net.arch, info.num_classes, info.in_channels,
                                 f"networks[{i}].pretrained")
            if net.checkpoint:
                load_checked_weights(net.checkpoint, net.name, net.arch, info.num_classes, info.in_channels,
                                     f"networks[{i}].checkpoint")
        if config.teacher is not None:
            path = None
            try:
                path = teacher_checkpoint(config)
            except TeacherNotTrained:
                # only "not trained yet" waits for the driver's teacher store; a missing store or a
                # changed checkpoint does not
                if not pending_teacher_ok:
                    raise
            if path:
                load_checked_weights(path, config.teacher.name, config.teacher.arch, info.num_classes,
                                     info.in_channels, "teacher.checkpoint")
                method_cls.check_teacher_files(config, path)
            elif method_cls.needs.teacher and not pending_teacher_ok:
                raise ConfigError("teacher.checkpoint", f"method {config.method.name} needs a trained teacher: "
                                                        "give teacher.checkpoint or teacher.epochs")
    return shapes
