"""The engine's typed configuration, loaded from YAML with ``yaml.safe_load``
and validated on load. A config file is the single, fully resolved description
of one training run: exported sweep configs are exactly this."""
import copy
import dataclasses
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

import yaml

from distill.errors import ConfigError
from distill.typed_dict import field, from_dict


@dataclass
class DataConfig:
    name: str = "digits"
    root: Optional[str] = None           # folder holding the data set's files (CIFAR etc.)
    val_fraction: float = field(0.1, gt=0.0, le=0.5)  # held out of train; all selection uses it
    split_seed: int = 0                  # fixed so every trial of a sweep sees the same split
    batch_size: int = field(128, ge=1)
    eval_batch_size: int = field(512, ge=1)
    augment: bool = True
    classes_per_batch: Optional[int] = field(None, ge=1)  # K classes x B/K images per batch (TADML's K)
    train_limit: Optional[int] = field(None, ge=1)      # use only the first N training images (tests)
    # a fixed class-stratified subset of the training split (after the validation hold-out): N images,
    # N / classes per class, drawn with subset_seed (the same for every trial), for runs sized to a CPU
    train_subset: Optional[int] = field(None, ge=1)
    # the same for the validation split: selection reads a fixed stratified subset of it (an epoch's
    # validation costs as much as training on a small subset); the test split is always whole
    val_subset: Optional[int] = field(None, ge=1)
    subset_seed: int = 0
    # evaluate on each image and its horizontal mirror and average the embeddings before
    # normalising (re-id practice); only for tasks whose evaluator takes flipped outputs (retrieval)
    eval_flip: bool = False
    # a data set read from image files (ImageNet): where JPEGs are decoded (``device``: nvJPEG on
    # the GPU, with the crops there) and by how many DataLoader processes per training process
    decode: str = field("cpu", choices=("cpu", "device"))
    loader_workers: int = field(4, ge=0)
    # a transfer set: another data set whose training images (never its labels) make the training
    # batches, e.g. USPS for an MNIST teacher (DAFL's "alternative data"); val and test stay this data set's
    transfer: Optional[str] = None
    # the attribute a multi-label set (CelebA) is classified by, as a binary task; None: the most
    # balanced attribute over the attribute file, the reference's reading (on the real file "Attractive")
    attribute: Optional[str] = None


@dataclass
class NetworkConfig:
    name: str
    arch: str
    checkpoint: Optional[str] = None     # initial weights (a teacher's are required)
    # backbone weights from a state dict file (ImageNet); the classifier keeps its initialisation and
    # ``checkpoint``, if given, wins (``distill/models/pretrained.py``)
    pretrained: Optional[str] = None
    # weight of the auxiliary heads' cross-entropy (``distill/methods/auxiliary.py``); None: 0.4 for
    # a network with auxiliary heads (DML's InceptionV1), ignored for one without
    aux_weight: Optional[float] = field(None, ge=0.0)
    # a quantized student (distill/models/quantize.py): ttq (2-bit ternary), binaryconnect (1-bit); None: full precision
    quantize: Optional[str] = field(None, choices=("ttq", "binaryconnect"))
    # a data-parallel trial (trial.workers > 1): BatchNorm statistics over the global batch
    # (torch's SyncBatchNorm, which runs on CUDA only); false: each worker's own batch
    sync_bn: bool = False


@dataclass
class OptimConfig:
    name: str = field("sgd", choices=("sgd", "adam"))
    lr: float = field(0.1, gt=0.0)
    momentum: float = field(0.9, ge=0.0, le=1.0)
    weight_decay: float = field(5e-4, ge=0.0)
    nesterov: bool = False
    schedule: str = field("step", choices=("step", "cosine", "constant"))
    milestones: List[int] = dataclasses.field(default_factory=lambda: [100, 150])
    gamma: float = field(0.1, gt=0.0, le=1.0)


@dataclass
class TeacherConfig:
    """A frozen teacher: weights from ``checkpoint``, or, without one, trained for
    ``epochs`` on the run's own data and optim recipe (method ``independent``, ``seed``)
    into the teacher ``store``, keyed by what determines it (``distill/teachers.py``)."""
    arch: str
    name: str = "teacher"
    checkpoint: Optional[str] = None
    epochs: Optional[int] = field(None, ge=1)
    seed: int = 0
    store: Optional[str] = None
    # the teacher's own optimiser recipe; None: the run's. The sweep driver pins it to the
    # sweep's recipe, so a search over optim.lr does not ask for one teacher per trial.
    optim: Optional[OptimConfig] = None
    # the teacher's own batch size; None: the run's (data.batch_size). Pinned when a sweep's rows
    # differ in batch size but share one teacher (DAFL: 512 generated images, 64 real ones)
    batch_size: Optional[int] = field(None, ge=1)


@dataclass
class TrainConfig:
    epochs: int = field(200, ge=1)
    device: str = field("auto", choices=("auto", "cpu", "cuda"))
    amp: str = field("auto", choices=("auto", "bf16", "off"))   # auto: bf16 on CUDA, off on CPU
    channels_last: bool = True
    deterministic: bool = True
    threads: Optional[int] = field(None, ge=1)
    eval_test: bool = True               # report test accuracy at the end; never used to select


@dataclass
class TrialConfig:
    """How one trial runs: ``workers`` data-parallel processes (one Ray placement-group bundle
    each; ``data.batch_size`` is the global batch, split evenly between them) placed
    ``PACK`` (as few nodes as possible) or ``SPREAD`` (across nodes)."""
    workers: int = field(1, ge=1)
    placement: str = field("PACK", choices=("PACK", "SPREAD"))


@dataclass
class MethodConfig:
    name: str
    params: Any                          # the method's own typed Params dataclass


@dataclass
class _ExperimentFields:
    """Everything but the method and the networks, which need custom parsing."""
    teacher: Optional[TeacherConfig] = None
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    trial: TrialConfig = dataclasses.field(default_factory=TrialConfig)
    seed: int = 0
    output_dir: str = "runs/default"
    # piecewise-constant hyperparameters by epoch (distill/hyper_schedule.py): KEY -> {first epoch: value},
    # KEY optim.lr or a method's number field; what a population-based sweep exports and re-runs
    schedule: Dict[str, Dict[str, float]] = dataclasses.field(default_factory=dict)


@dataclass(kw_only=True)
class ExperimentConfig(_ExperimentFields):
    method: MethodConfig
    networks: List[NetworkConfig]


_TOP_LEVEL = [f.name for f in dataclasses.fields(ExperimentConfig)]


def config_from_dict(raw: Dict[str, Any]) -> ExperimentConfig:
    from distill.methods import METHODS  # the method decides which params it accepts

    if not isinstance(raw, dict):
        raise ConfigError("config", f"must be a mapping with keys {', '.join(_TOP_LEVEL)}")
    raw = copy.deepcopy(raw)
    method_raw = raw.pop("method", None)
    if not isinstance(method_raw, dict) or "name" not in method_raw:
        raise ConfigError("method.name", f"is required; allowed: {', '.join(METHODS.names())}")
    name = method_raw.pop("name")
    method_cls = METHODS.get(name, "method.name")
    params = from_dict(method_cls.Params, method_raw, "method")
    unknown = [k for k in raw if k not in _TOP_LEVEL]
    if unknown:
        raise ConfigError(unknown[0], f"unknown field; allowed: {', '.join(_TOP_LEVEL)}")
    raw.setdefault("networks", None)
    if not raw["networks"]:
        raise ConfigError("networks", "at least one network {name, arch} is required")
    nets = [from_dict(NetworkConfig, n, f"networks[{i}]") for i, n in enumerate(raw.pop("networks"))]
    rest = from_dict(_ExperimentFields, raw)
    config = ExperimentConfig(method=MethodConfig(name, params), networks=nets,
                              **{f.name: getattr(rest, f.name) for f in dataclasses.fields(rest)})
    validate(config, method_cls)
    return config


def validate(config: ExperimentConfig, method_cls) -> None:
    """What can be checked without files (``distill.validation.validate_run`` does the rest)."""
    from distill.validation import validate_run

    validate_run(config, check_files=False)


def config_to_dict(config: ExperimentConfig) -> Dict[str, Any]:
    """The fully resolved config as plain data; ``config_from_dict`` reads it back."""
    out = dataclasses.asdict(config)
    method = out.pop("method")
    out = {"method": {"name": method["name"], **method["params"]}, "networks": out.pop("networks"), **out}
    if out["teacher"] is None:
        del out["teacher"]
    return out


def parse_override(text: str):
    if "=" not in text:
        raise ConfigError("--set", f"expected KEY=VALUE (e.g. method.temperature=4), got {text!r}")
    key, value = text.split("=", 1)
    try:
        return key.strip(), yaml.safe_load(value)
    except yaml.YAMLError:
        raise ConfigError(key.strip(), f"value {value!r} is not valid YAML") from None


def set_dotted(raw: Dict[str, Any], key: str, value) -> None:
    """``networks.1.arch`` style assignment into nested dicts and lists."""
    parts = key.split(".")
    node = raw
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        where = ".".join(parts[: i + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(where, f"index out of range; {len(node)} entries")
            if last:
                node[int(part)] = value
            else:
                node = node[int(part)]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            else:
                if node.get(part) is None:
                    node[part] = {}
                node = node[part]
        else:
            raise ConfigError(where, "cannot set a field inside a plain value")


def apply_overrides(raw: Dict[str, Any], overrides: Sequence) -> Dict[str, Any]:
    """Overrides are ``"key=value"`` strings or ``(key, value)`` pairs."""
    raw = copy.deepcopy(raw)
    for item in overrides:
        key, value = parse_override(item) if isinstance(item, str) else item
        # a copy: a later dotted key (``method.inputs``) must not reach into the caller's value
        set_dotted(raw, key, copy.deepcopy(value))
    return raw


def read_yaml(path: str) -> Dict[str, Any]:
    try:
        with open(path) as fh:
            data = yaml.safe_load(fh)
    except FileNotFoundError:
        raise ConfigError("--config", f"file not found: {path}") from None
    except OSError as err:   # a folder, no permission, ...
        raise ConfigError("--config", f"cannot read {path}: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise ConfigError("--config", f"{path} is not a UTF-8 text (YAML) file") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError("--config", f"{path} is not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise ConfigError("--config", f"{path} must hold a mapping of {', '.join(_TOP_LEVEL)}")
    return data


def load_config(path: str, overrides: Sequence = ()) -> ExperimentConfig:
    return config_from_dict(apply_overrides(read_yaml(path), overrides))
