"""What a data-free method's input source generates, read back from a finished run.

A run's folder holds its resolved ``config.yaml`` and ``checkpoint/checkpoint.pt``; the
checkpoint's method state holds the trained input source (the owned module ``source``),
never the frozen teacher, which is rebuilt from the config as the trainer builds it. A
fixed-seed batch is drawn with the source in eval mode (BatchNorm on its running
statistics, as the data-free agreement score samples), and the teacher labels each image
with its argmax and softmax confidence: what a report shows as a grid per class and a
class histogram.

Sources by method name (``SOURCE_BUILDERS``), so a further data-free method registers
how its source is built from its params instead of growing a branch here."""
import os
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

import torch
from torch import nn

from distill.checkpoint import CHECKPOINT_FILE, read_checkpoint
from distill.errors import ConfigError
from distill.registry import Registry

DEFAULT_SAMPLES = 512
DEFAULT_SEED = 0
CHUNK = 256   # images per forward: bounds memory for big teachers; fixed, so draws are reproducible
SOURCE_MODULE = "source"   # the owned module's name in ``Method.owned`` (distill/methods/dafl.py)

# method name -> fn(config, image_shape) -> an untrained input source with ``sample(n, rng, device)``
SOURCE_BUILDERS: Registry[Callable] = Registry("data-free method")


@SOURCE_BUILDERS.register("dafl")
def _dafl_source(config, image_shape):
    from distill.methods.data_free_inputs import build_source

    p = config.method.params
    return build_source(p.inputs, p.latent_dim, image_shape, p.generator_width)


@dataclass
class GeneratedBatch:
    images: torch.Tensor       # (N, C, H, W) float32, in the teacher's normalised input space
    classes: torch.Tensor      # (N,) int64, the teacher's argmax
    confidence: torch.Tensor   # (N,) float32, the teacher's softmax probability of that class
    num_classes: int
    mean: Optional[Tuple[float, ...]] = None   # the run's normalisation, for display; None: unknown
    std: Optional[Tuple[float, ...]] = None

    def histogram(self) -> torch.Tensor:
        """Images per teacher class, (num_classes,) int64."""
        return torch.bincount(self.classes, minlength=self.num_classes)

    def l1_to_uniform(self) -> float:
        """sum_c |share_c - 1/K|: 0 for a perfectly balanced batch, 2 (1 - 1/K) for one class only."""
        share = self.histogram().double() / max(len(self.classes), 1)
        return float((share - 1.0 / self.num_classes).abs().sum())

    def mean_confidence(self) -> float:
        return float(self.confidence.double().mean())

    def display_images(self) -> torch.Tensor:
        """(N, C, H, W) in [0, 1]: de-normalised with the run's mean/std when known, else the
        batch's own range stretched to [0, 1] (the images' relative contrast, not their values)."""
        x = self.images.double()
        if self.mean is not None and self.std is not None:
            mean = torch.tensor(self.mean, dtype=torch.float64).view(1, -1, 1, 1)
            std = torch.tensor(self.std, dtype=torch.float64).view(1, -1, 1, 1)
            x = x * std + mean
        else:
            low, high = x.min(), x.max()
            x = (x - low) / (high - low).clamp_min(1e-12)
        return x.clamp(0.0, 1.0).float()


def run_files(folder: str) -> Tuple[str, str]:
    """A finished run's (config.yaml, checkpoint.pt); a missing one is a ConfigError naming it."""
    from distill.trainer import CONFIG_FILE

    config_path = os.path.join(folder, CONFIG_FILE)
    checkpoint_path = os.path.join(folder, "checkpoint", CHECKPOINT_FILE)
    for path in (config_path, checkpoint_path):
        if not os.path.isfile(path):
            raise ConfigError("run folder", f"{path} not found (a finished run holds {CONFIG_FILE} and "
                                            f"checkpoint/{CHECKPOINT_FILE})")
    return config_path, checkpoint_path


def read_config(config_path: str):
    import yaml

    from distill.config import config_from_dict

    with open(config_path) as fh:
        return config_from_dict(yaml.safe_load(fh))


def _image_shape(config) -> Tuple[int, int, int]:
    from distill.data import DATA_INFO

    info = DATA_INFO.get(config.data.name, "data.name")
    return (info.in_channels,) + tuple(info.image_size)


def trained_source(config, method_state: dict) -> nn.Module:
    """The method's input source with the weights its checkpoint holds (``method.modules``)."""
    source = SOURCE_BUILDERS.get(config.method.name, "method.name")(config, _image_shape(config))
    prefix = f"owned.{SOURCE_MODULE}."
    weights = {k[len(prefix):]: v for k, v in method_state["modules"].items() if k.startswith(prefix)}
    source.load_state_dict(weights)   # strict: a generator of another shape fails loudly
    return source


def frozen_teacher(config) -> nn.Module:
    """The run's teacher as the trainer builds it: ``teacher.checkpoint`` or its store entry."""
    from distill.data import DATA_INFO
    from distill.models import build_model
    from distill.validation import load_checked_weights, teacher_checkpoint

    t_cfg = config.teacher
    if t_cfg is None:
        raise ConfigError("teacher", f"method {config.method.name} ran without a teacher; nothing labels its images")
    info = DATA_INFO.get(config.data.name, "data.name")
    teacher = build_model(t_cfg.arch, info.num_classes, info.in_channels, "teacher.arch")
    path = teacher_checkpoint(config)
    if not path:
        raise ConfigError("teacher.checkpoint", f"teacher {t_cfg.arch} has no checkpoint or trained store entry")
    teacher.load_state_dict(load_checked_weights(path, t_cfg.name, t_cfg.arch, info.num_classes, info.in_channels,
                                                 "teacher.checkpoint"))
    return teacher.eval().requires_grad_(False)


def normalisation_stats(config) -> Tuple[Tuple[float, ...], Tuple[float, ...]]:
    """The run's input mean/std: the loader's fixed constants (MNIST's 0.1307 / 0.3081) or the
    training split's channel statistics, exactly as ``load_splits`` gives them to the trainer.
    No data set exposes its constants without loading, so this loads the data set (for a
    report, not for training); a report that cannot should fall back to ``mean=None``."""
    from distill.data import load_splits

    splits = load_splits(config.data)
    return tuple(splits.mean), tuple(splits.std)


@torch.inference_mode()
def draw(source: nn.Module, teacher: nn.Module, n: int, seed: int, device="cpu") -> Tuple[torch.Tensor, ...]:
    """``n`` images from ``source`` (eval mode, noise from a CPU generator seeded ``seed``, so the
    same on any device) and the teacher's argmax and softmax confidence on each, returned on the
    CPU. ``device``: ``cpu``, ``cuda`` or ``auto``."""
    from distill.runtime import resolve_device

    device = resolve_device(device) if isinstance(device, str) else device
    source, teacher = source.to(device).eval(), teacher.to(device).eval()
    rng = torch.Generator().manual_seed(seed)
    images, classes, confidence = [], [], []
    for start in range(0, n, CHUNK):
        batch = source.sample(min(CHUNK, n - start), rng, device)
        p = torch.softmax(teacher(batch).float(), dim=1)
        top, arg = p.max(dim=1)
        images.append(batch.float().cpu())
        classes.append(arg.cpu())
        confidence.append(top.cpu())
    return torch.cat(images), torch.cat(classes), torch.cat(confidence)


def generated_batch(config, checkpoint_path: str, n: int = DEFAULT_SAMPLES, seed: int = DEFAULT_SEED,
                    device="cpu", stats: Optional[Tuple] = None) -> GeneratedBatch:
    """``config``: the run's resolved ``ExperimentConfig``; ``checkpoint_path``: its checkpoint
    file (or folder); ``stats``: (mean, std) for display, None to leave them unknown."""
    from distill.data import DATA_INFO

    state = read_checkpoint(checkpoint_path if not os.path.isdir(checkpoint_path)
                            else os.path.join(checkpoint_path, CHECKPOINT_FILE), "checkpoint")
    source = trained_source(config, state["method"])
    images, classes, confidence = draw(source, frozen_teacher(config), n, seed, device)
    mean, std = stats if stats is not None else (None, None)
    return GeneratedBatch(images, classes, confidence, DATA_INFO.get(config.data.name).num_classes, mean, std)


def generate_for_run(folder: str, n: int = DEFAULT_SAMPLES, seed: int = DEFAULT_SEED, device="cpu",
                     with_stats: bool = True) -> GeneratedBatch:
    """The generated batch of the finished run in ``folder`` (its ``config.yaml`` and ``checkpoint/``),
    with the run's normalisation for display when ``with_stats``."""
    config_path, checkpoint_path = run_files(folder)
    config = read_config(config_path)
    return generated_batch(config, checkpoint_path, n, seed, device,
                           normalisation_stats(config) if with_stats else None)


__all__ = ["GeneratedBatch", "SOURCE_BUILDERS", "draw", "frozen_teacher", "generate_for_run", "generated_batch",
           "normalisation_stats", "read_config", "run_files", "trained_source"]
