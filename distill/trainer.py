"""The training loop: N networks, one optimizer each, a method that turns their
outputs into named weighted loss terms, evaluation on the held-out validation
split every epoch, a full checkpoint every epoch, resume with identical numbers."""
import contextlib
import json
import math
import os
import time
from typing import Callable, Dict, List, Optional

import torch

from distill.checkpoint import load_checkpoint, load_network_weights, save_checkpoint
from distill.config import ExperimentConfig, config_to_dict
from distill.atomic_write import atomic_write, write_yaml
from distill.data import ImageSet, load_splits
from distill.data.batches import Normalizer, TrainBatches, eval_batches
from distill.data.class_balanced import check_classes_per_batch
from distill.methods import METHODS
from distill.methods.base import Batch
from distill.models import build_model, count_parameters
from distill.runtime import autocast_dtype, configure, resolve_device, rng_state, set_rng_state
from distill.schedules import build_optimizer, build_schedule

METRICS_FILE = "metrics.jsonl"
CONFIG_FILE = "config.yaml"


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite: retrying from a checkpoint would diverge again."""


class Trainer:
    def __init__(self, config: ExperimentConfig, output_dir: Optional[str] = None):
        self.config = config
        self.output_dir = output_dir or config.output_dir
        self.device = resolve_device(config.train.device)
        configure(config.train, config.seed, self.device)
        self.amp_dtype = autocast_dtype(config.train.amp, self.device)
        self.memory_format = torch.channels_last if config.train.channels_last else torch.contiguous_format

        self.splits = load_splits(config.data)
        if config.data.classes_per_batch:
            check_classes_per_batch(config.data.classes_per_batch, config.data.batch_size, self.splits.num_classes)
        self.networks: Dict[str, torch.nn.Module] = {}
        for i, net_cfg in enumerate(config.networks):
            net = build_model(net_cfg.arch, self.splits.num_classes, self.splits.in_channels, f"networks[{i}].arch")
            if net_cfg.checkpoint:
                net.load_state_dict(load_network_weights(net_cfg.checkpoint, net_cfg.name, f"networks[{i}].checkpoint"))
            self.networks[net_cfg.name] = net.to(self.device, memory_format=self.memory_format)
        self.teacher = self._build_teacher()
        method_cls = METHODS.get(config.method.name, "method.name")
        self.method = method_cls(config.method.params, self.networks, self.splits.num_classes, self.teacher).to(self.device)
        self.optimizers = {n: build_optimizer(net.parameters(), config.optim) for n, net in self.networks.items()}
        self.schedules = {n: build_schedule(opt, config.optim, config.train.epochs) for n, opt in self.optimizers.items()}

        self.data_generator = torch.Generator().manual_seed(config.seed)
        normalize = Normalizer(self.splits.mean, self.splits.std, self.device, config.train.channels_last)
        self.normalize = normalize
        self.train_batches = TrainBatches(self.splits.train, config.data.batch_size, normalize, self.device,
                                          self.splits.crop_padding, self.splits.flip, config.data.augment,
                                          self.data_generator, config.data.classes_per_batch, self.splits.num_classes)
        self.val_set = ImageSet(self.splits.val.images.to(self.device), self.splits.val.labels.to(self.device))
        self.test_set = ImageSet(self.splits.test.images.to(self.device), self.splits.test.labels.to(self.device))
        self.epoch = 0
        self.history: List[dict] = []

    def _build_teacher(self):
        t_cfg = self.config.teacher
        if t_cfg is None:
            return None
        teacher = build_model(t_cfg.arch, self.splits.num_classes, self.splits.in_channels, "teacher.arch")
        if t_cfg.checkpoint:
            teacher.load_state_dict(load_network_weights(t_cfg.checkpoint, t_cfg.name, "teacher.checkpoint"))
        teacher.eval().requires_grad_(False)
        return teacher.to(self.device, memory_format=self.memory_format)

    # -- one step -------------------------------------------------------------
    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def _forward(self, net, images):
        return net.features(images) if self.method.wants_features() else {"logits": net(images)}

    def train_step(self, images, labels) -> Dict[str, torch.Tensor]:
        batch = Batch(images, labels)
        with self._autocast():
            teacher_out = None
            if self.teacher is not None:
                with torch.no_grad():
                    teacher_out = self._forward(self.teacher, images)
            outputs = {name: self._forward(net, images) for name, net in self.networks.items()}
            terms = self.method.losses(batch, outputs, teacher_out)
        total = sum(terms.values())
        for opt in self.optimizers.values():
            opt.zero_grad(set_to_none=True)
        total.backward()
        for opt in self.optimizers.values():
            opt.step()
        extra = self.method.after_step(batch, outputs, teacher_out)
        logged = {name: value.detach() for name, value in terms.items()}
        logged.update({name: value.detach() for name, value in extra.items()})
        logged["total"] = total.detach()
        return logged

    def train_epoch(self) -> Dict[str, float]:
        for net in self.networks.values():
            net.train()
        self.method.train()
        sums: Dict[str, torch.Tensor] = {}
        steps = 0
        for images, labels in self.train_batches:
            for name, value in self.train_step(images, labels).items():
                sums[name] = sums[name] + value if name in sums else value.clone()
            steps += 1
        # one host sync per epoch, not per step
        means = {name: float(value) / max(steps, 1) for name, value in sums.items()}
        if not all(math.isfinite(v) for v in means.values()):
            bad = sorted(k for k, v in means.items() if not math.isfinite(v))
            raise TrainingDiverged(f"loss became non-finite in epoch {self.epoch + 1}: {', '.join(bad)}")
        return means

    @torch.no_grad()
    def evaluate(self, data) -> Dict[str, Dict[str, float]]:
        results = {}
        for name, net in self.networks.items():
            net.eval()
            correct = torch.zeros((), device=self.device)
            loss = torch.zeros((), device=self.device)
            for images, labels in eval_batches(data, self.config.data.eval_batch_size, self.normalize, self.device):
                with self._autocast():
                    logits = net(images).float()
                loss += torch.nn.functional.cross_entropy(logits, labels, reduction="sum")
                correct += (logits.argmax(1) == labels).sum()
            results[name] = {"acc": 100.0 * float(correct) / len(data), "loss": float(loss) / len(data)}
        return results

    # -- epochs, checkpoints, resume -----------------------------------------
    def _epoch_metrics(self, train_terms: Dict[str, float], lr: float, seconds: float) -> dict:
        metrics = {"epoch": self.epoch, "epochs_planned": self.config.train.epochs, "lr": lr,
                   "epoch_seconds": seconds, "images_per_second": len(self.train_batches) * self.train_batches.batch_size / max(seconds, 1e-9)}
        metrics.update({f"loss.{name}": value for name, value in train_terms.items()})
        val = self.evaluate(self.val_set)
        previous = self.history[-1] if self.history else {}
        for name, res in val.items():
            metrics[f"val_acc.{name}"] = res["acc"]
            metrics[f"val_loss.{name}"] = res["loss"]
            best = max(res["acc"], previous.get(f"best_val_acc.{name}", -1.0))
            metrics[f"best_val_acc.{name}"] = best
        for name, net in self.networks.items():
            metrics[f"params.{name}"] = count_parameters(net) / 1e6   # millions: a second objective
        accs = [res["acc"] for res in val.values()]
        metrics["val_acc.mean"] = sum(accs) / len(accs)
        metrics["val_acc.max"] = max(accs)
        metrics["best_val_acc.max"] = max(metrics[f"best_val_acc.{n}"] for n in val)
        if self.epoch == self.config.train.epochs and self.config.train.eval_test:
            for name, res in self.evaluate(self.test_set).items():
                metrics[f"test_acc.{name}"] = res["acc"]
        return metrics

    def state(self) -> dict:
        return {
            "epoch": self.epoch,
            "networks": {n: net.state_dict() for n, net in self.networks.items()},
            "optimizers": {n: opt.state_dict() for n, opt in self.optimizers.items()},
            "schedules": {n: s.state_dict() for n, s in self.schedules.items()},
            "method": self.method.method_state(),
            "history": self.history,
            "rng": rng_state(self.data_generator),
            "config": config_to_dict(self.config),
        }

    def resume(self, checkpoint: str) -> None:
        state = load_checkpoint(checkpoint)
        for name, net in self.networks.items():
            net.load_state_dict(state["networks"][name])
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        for name, sched in self.schedules.items():
            sched.load_state_dict(state["schedules"][name])
        self.method.load_method_state(state["method"])
        self.history = list(state["history"])
        self.epoch = state["epoch"]
        set_rng_state(state["rng"], self.data_generator)

    def _write_metrics_file(self) -> None:
        # rewritten whole each epoch: after a resume it never holds epochs past the checkpoint
        lines = "".join(json.dumps(m) + "\n" for m in self.history)
        atomic_write(os.path.join(self.output_dir, METRICS_FILE), lambda fh: fh.write(lines))

    def fit(self, on_epoch: Optional[Callable[[dict, str], None]] = None) -> List[dict]:
        """Train up to ``train.epochs``; after each epoch save a checkpoint into
        ``output_dir/checkpoint`` and call ``on_epoch(metrics, checkpoint_dir)``."""
        os.makedirs(self.output_dir, exist_ok=True)
        write_yaml(os.path.join(self.output_dir, CONFIG_FILE), config_to_dict(self.config))
        checkpoint_dir = os.path.join(self.output_dir, "checkpoint")
        while self.epoch < self.config.train.epochs:
            start = time.perf_counter()
            lr = self.optimizers[next(iter(self.optimizers))].param_groups[0]["lr"]
            train_terms = self.train_epoch()
            for sched in self.schedules.values():
                sched.step()
            self.epoch += 1
            metrics = self._epoch_metrics(train_terms, lr, time.perf_counter() - start)
            self.history.append(metrics)
            save_checkpoint(checkpoint_dir, self.state())
            self._write_metrics_file()
            if on_epoch is not None:
                on_epoch(metrics, checkpoint_dir)
        return self.history
