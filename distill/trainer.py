"""The training loop: N networks, one optimizer each (holding the modules the
method trains with that network), a method that turns their outputs into named
weighted loss terms (see ``distill/methods/base.py`` for the lifecycle), named
metrics from evaluators on the held-out validation split every epoch and on the
test split at the end, a full checkpoint every epoch, resume with identical numbers."""
import json
import math
import os
import time
from typing import Callable, Dict, List, Optional

import torch

from distill import hyper_schedule
from distill.atomic_write import atomic_write, write_yaml
from distill.checkpoint import CHECKPOINT_FILE, read_checkpoint, save_checkpoint
from distill.models.quantize import quantize_model, quantized_state_dict, weight_bits
from distill.config import ExperimentConfig, config_to_dict
from distill import data_parallel
from distill.data_parallel import SINGLE, ParallelGroup
from distill.data import load_splits
from distill.data.batches import TRAIN_BATCHERS, Normalizer, eval_batches
from distill.data.samplers import sampler_for
from distill.data.transfer import transfer_images
from distill.evaluators import MAX, TASKS
from distill.methods import METHODS
from distill.methods.auxiliary import aux_weight_for
from distill.methods.context import MethodContext
from distill.methods.optimized import check_every_parameter_optimized
from distill.models import build_model, count_parameters
from distill.models.pretrained import load_pretrained
from distill.runtime import autocast_dtype, configure, resolve_device, rng_state, set_rng_state
from distill.schedules import build_optimizer, build_schedule
from distill.step_engine import StepEngine
from distill.validation import load_checked_weights, teacher_checkpoint, validate_run

METRICS_FILE = "metrics.jsonl"
TEACHER_METRIC_NAME = "teacher"   # test_acc.teacher
CONFIG_FILE = "config.yaml"


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite: retrying from a checkpoint would diverge again."""


class Trainer:
    """``group``: this process's place in a data-parallel run (``distill/data_parallel.py``);
    rank 0 evaluates, checkpoints and calls ``on_epoch``, the others only train."""

    def __init__(self, config: ExperimentConfig, output_dir: Optional[str] = None, group: ParallelGroup = SINGLE):
        self.config = config
        self.group = group
        self.output_dir = output_dir or config.output_dir
        # seconds this process spent per phase of fit (not state: a resumed run starts at 0)
        self.phase_seconds: Dict[str, float] = {"train": 0.0, "evaluate": 0.0, "checkpoint": 0.0}
        self.device = resolve_device(config.train.device)
        configure(config.train, config.seed, self.device)
        self.amp_dtype = autocast_dtype(config.train.amp, self.device)
        self.memory_format = torch.channels_last if config.train.channels_last else torch.contiguous_format
        # the driver ran the same checks on this config before any Ray work
        self.shapes = validate_run(config)
        data_parallel.check_sync_bn(config, self.device)
        data_parallel.join(group, self.device)

        method_cls = METHODS.get(config.method.name, "method.name")
        data_needs = method_cls.data_needs(config.method.params)
        self.splits = load_splits(config.data)
        num_classes, in_channels = self.splits.num_classes, self.splits.in_channels
        self.networks: Dict[str, torch.nn.Module] = {}
        for i, net_cfg in enumerate(config.networks):
            net = build_model(net_cfg.arch, num_classes, in_channels, f"networks[{i}].arch")
            if net_cfg.pretrained:   # backbone first: a checkpoint, if given, overwrites it
                load_pretrained(net, net_cfg.pretrained, f"networks[{i}].pretrained")
            if net_cfg.checkpoint:
                net.load_state_dict(load_checked_weights(net_cfg.checkpoint, net_cfg.name, net_cfg.arch, num_classes,
                                                         in_channels, f"networks[{i}].checkpoint"))
            # quantized after its starting weights are in: they become the full-precision shadow weights
            quantize_model(net, net_cfg.quantize)
            if net_cfg.sync_bn and group.parallel:
                net = torch.nn.SyncBatchNorm.convert_sync_batchnorm(net)
            self.networks[net_cfg.name] = net.to(self.device, memory_format=self.memory_format)
        self.teacher = self._build_teacher()

        self.data_generator = torch.Generator().manual_seed(config.seed)
        # a parallel run's processes draw the same batches and augment their shares differently
        self.augment_generator = torch.Generator() if group.parallel else None
        self.normalize = Normalizer(self.splits.mean, self.splits.std, self.device, config.train.channels_last)
        sampler, _ = sampler_for(data_needs, config.data)
        # a data-free method holds no training image; a transfer set replaces the split's images
        train_images = None if not data_needs.real_data else (
            transfer_images(config.data) if config.data.transfer else self.splits.train)
        self.train_batches = TRAIN_BATCHERS.get(getattr(train_images, "kind", "memory"))(
            train_images, config.data.batch_size, self.normalize, self.device,
            self.splits.crop_padding, self.splits.flip, config.data.augment, self.data_generator, sampler=sampler,
            classes_per_batch=config.data.classes_per_batch, num_classes=num_classes, views=data_needs.views,
            iterations=data_needs.iterations_per_epoch, shard=group.shard, augment_generator=self.augment_generator)

        image_shape = tuple(self.splits.val.image_shape)
        stage_channels = {name: shape.stage_channels for name, shape in self.shapes.networks.items()}
        embedding_dims = {name: shape.embedding_dim for name, shape in self.shapes.networks.items()}
        if self.shapes.teacher is not None:
            stage_channels["teacher"] = self.shapes.teacher.stage_channels
            embedding_dims["teacher"] = self.shapes.teacher.embedding_dim
        context = MethodContext(networks=self.networks, teacher=self.teacher, num_classes=num_classes,
                                input_shape=image_shape, stage_channels=stage_channels, embedding_dims=embedding_dims,
                                train_size=len(train_images) if train_images is not None else 0,
                                epochs=config.train.epochs,
                                steps_per_epoch=len(self.train_batches), device=self.device,
                                batch_size=self.train_batches.batch_size // group.world, seed=config.seed,
                                memory_format=self.memory_format, input_mean=tuple(self.splits.mean),
                                input_std=tuple(self.splits.std),
                                teacher_checkpoint=teacher_checkpoint(config) if config.teacher else None)
        self.method = method_cls(config.method.params, context).to(self.device)
        self.optimizers = {n: build_optimizer(list(net.parameters()) + self.method.parameters_trained_with(n), config.optim)
                           for n, net in self.networks.items()}
        self.schedules = {n: build_schedule(opt, config.optim, config.train.epochs) for n, opt in self.optimizers.items()}
        self.hyper_schedule = hyper_schedule.parsed(config, method_cls)   # config.schedule, by epoch
        # reported every epoch as hp.<key> (a population-based sweep adds the keys it perturbs)
        self.recorded_hyperparameters: List[str] = list(self.hyper_schedule)
        check_every_parameter_optimized(self.method, list(self.optimizers.values()) + list(self.method.optimizers.values()))
        for optimizer in list(self.optimizers.values()) + list(self.method.optimizers.values()):
            data_parallel.average_gradients_before_step(optimizer, group)
        self.engine = StepEngine(self.networks, self.teacher, self.optimizers, self.amp_dtype, self.device,
                                 method_cls.needs.teacher_taps, method_cls.needs.teacher_grad,
                                 aux_weights={n.name: aux_weight_for(self.networks[n.name], n.aux_weight)
                                              for n in config.networks})
        # the data set's task decides the default evaluator and the metric the aggregate lines summarise
        self.task = TASKS.get(self.shapes.task)
        self.evaluators = [self.task.build(list(self.networks))] + list(self.method.evaluators())
        self.val_set = self.splits.val.to(self.device)
        self.test_set = self.splits.test.to(self.device)
        self.epoch = 0
        self.history: List[dict] = []

    def _build_teacher(self):
        t_cfg = self.config.teacher
        if t_cfg is None:
            return None
        num_classes, in_channels = self.splits.num_classes, self.splits.in_channels
        teacher = build_model(t_cfg.arch, num_classes, in_channels, "teacher.arch")
        path = teacher_checkpoint(self.config)
        if path:
            teacher.load_state_dict(load_checked_weights(path, t_cfg.name, t_cfg.arch, num_classes, in_channels,
                                                         "teacher.checkpoint"))
        teacher.eval().requires_grad_(False)
        return teacher.to(self.device, memory_format=self.memory_format)

    # -- one step -------------------------------------------------------------
    def train_step(self, batch) -> Dict[str, torch.Tensor]:
        self.method.steps += 1
        self.engine.last_total = None
        terms = self.method.train_step(batch, self.engine)
        logged = {name: value.detach() for name, value in terms.items()}
        total = self.engine.last_total
        logged["total"] = total if total is not None else sum(logged.values())
        return logged

    def train_epoch(self) -> Dict[str, float]:
        for net in self.networks.values():
            net.train()
        self.method.train()
        data_parallel.reseed_other_ranks(self.config.seed, self.epoch, self.group)
        self.method.on_epoch_start(self.epoch)
        if self.augment_generator is not None:   # by (seed, epoch, rank): a resumed epoch augments the same
            self.augment_generator.manual_seed(data_parallel.rank_seed(self.config.seed, self.epoch, self.group.rank))
        sums: Dict[str, torch.Tensor] = {}
        steps = 0
        for batch in self.train_batches:
            for name, value in self.train_step(batch).items():
                sums[name] = sums[name] + value if name in sums else value.clone()
            steps += 1
        # one host sync per epoch, not per step
        means = data_parallel.mean_over_group({name: float(value) / max(steps, 1) for name, value in sums.items()},
                                              self.group)
        if not all(math.isfinite(v) for v in means.values()):
            bad = sorted(k for k, v in means.items() if not math.isfinite(v))
            raise TrainingDiverged(f"loss became non-finite in epoch {self.epoch + 1}: {', '.join(bad)}")
        return means

    def metric_directions(self) -> Dict[str, str]:
        """Every evaluator metric by its reported name (``val_acc.net0``) -> "max" or "min"."""
        out = {}
        for evaluator in self.evaluators:
            for name, direction in evaluator.directions().items():
                out[f"val_{name}"] = out[f"test_{name}"] = out[f"best_val_{name}"] = direction
        return out

    @torch.inference_mode()
    def evaluate(self, data) -> Dict[str, float]:
        """Every evaluator's metrics on ``data`` (names without the split prefix)."""
        for net in self.networks.values():
            net.eval()
        self.method.eval()
        features = any(e.wants_features for e in self.evaluators)
        # flip averaging: the networks also see each image mirrored, for the evaluators that take it
        flip = self.config.data.eval_flip and any(e.wants_flipped for e in self.evaluators)
        for evaluator in self.evaluators:
            evaluator.reset()
        for images, labels, extras in eval_batches(data, self.config.data.eval_batch_size, self.normalize, self.device,
                                                   with_extras=True):
            with self.engine.autocast():
                outputs = self.engine.run_networks(images, features)
                flipped = self.engine.run_networks(images.flip(3).contiguous(memory_format=self.memory_format),
                                                   features) if flip else None
            for evaluator in self.evaluators:
                if flipped is not None and evaluator.wants_flipped:
                    evaluator.update(outputs, labels, extras, flipped=flipped)
                else:
                    evaluator.update(outputs, labels, extras)
        results: Dict[str, float] = {}
        for evaluator in self.evaluators:
            results.update(evaluator.result())
        return results

    @torch.inference_mode()
    def evaluate_teacher(self, data) -> Dict[str, float]:
        """The teacher's score by the task's own evaluator (``acc.teacher``, ``map.teacher``): it is
        frozen, so once, on the test split."""
        evaluator = self.task.build([TEACHER_METRIC_NAME])
        features = evaluator.wants_features
        evaluator.reset()
        for images, labels, extras in eval_batches(data, self.config.data.eval_batch_size, self.normalize,
                                                   self.device, with_extras=True):
            with self.engine.autocast():
                out = self.engine.forward(self.teacher, images, features)
            evaluator.update({TEACHER_METRIC_NAME: out}, labels, extras)
        return evaluator.result()

    # -- epochs, checkpoints, resume -----------------------------------------
    def _epoch_metrics(self, train_terms: Dict[str, float], lr: float, seconds: float) -> dict:
        metrics = {"epoch": self.epoch, "epochs_planned": self.config.train.epochs, "lr": lr,
                   "epoch_seconds": seconds, "images_per_second": len(self.train_batches) * self.train_batches.batch_size / max(seconds, 1e-9)}
        metrics.update({f"loss.{name}": value for name, value in train_terms.items()})
        metrics.update({f"hp.{key}": value for key, value in
                        hyper_schedule.live_values(self, self.recorded_hyperparameters).items()})
        previous = self.history[-1] if self.history else {}
        directions = self.metric_directions()
        for name, value in self.evaluate(self.val_set).items():
            metrics[f"val_{name}"] = value
            best, earlier = f"best_val_{name}", previous.get(f"best_val_{name}")
            better = max if directions[f"val_{name}"] == MAX else min
            metrics[best] = value if earlier is None else better(value, earlier)
        for name, net in self.networks.items():
            metrics[f"params.{name}"] = count_parameters(net) / 1e6   # millions: a second objective
            metrics[f"bits.{name}"] = weight_bits(getattr(net, "quantize", None))   # of the quantized layers
        primary = self.task.primary   # acc (classification), map (retrieval)
        values = [metrics[f"val_{primary}.{name}"] for name in self.networks]
        metrics[f"val_{primary}.mean"] = sum(values) / len(values)
        metrics[f"val_{primary}.max"] = max(values)
        metrics[f"best_val_{primary}.max"] = max(metrics[f"best_val_{primary}.{n}"] for n in self.networks)
        if self.epoch == self.config.train.epochs and self.config.train.eval_test:
            for name, value in self.evaluate(self.test_set).items():
                metrics[f"test_{name}"] = value
            if self.teacher is not None:   # the frozen teacher's own score, the row tables print above its students
                for name, value in self.evaluate_teacher(self.test_set).items():
                    metrics[f"test_{name}"] = value
        return metrics

    def state(self) -> dict:
        return {
            "epoch": self.epoch,
            "networks": {n: net.state_dict() for n, net in self.networks.items()},
            # what a quantized network computes with, under plain names (the exported weights)
            "quantized_networks": {n: quantized_state_dict(net) for n, net in self.networks.items()
                                   if getattr(net, "quantize", None)},
            "optimizers": {n: opt.state_dict() for n, opt in self.optimizers.items()},
            "schedules": {n: s.state_dict() for n, s in self.schedules.items()},
            "method": self.method.method_state(),
            "history": self.history,
            "rng": rng_state(self.data_generator),
            "config": config_to_dict(self.config),
        }

    def resume(self, checkpoint: str) -> None:
        self.load_state(read_checkpoint(checkpoint if not os.path.isdir(checkpoint) else
                                        os.path.join(checkpoint, CHECKPOINT_FILE), "resume checkpoint"))

    def load_state(self, state: dict) -> None:
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
        # this run's values, where the checkpoint's run had others (population-based training
        # continues a donor's checkpoint with new ones); the optimizers' state is kept
        for name, optimizer in self.optimizers.items():
            hyper_schedule.set_base_lr(optimizer, self.schedules[name], self.config.optim.lr)
        for name, field in self.method.optimizer_lr_fields.items():
            self.method.set_param(field, getattr(self.method.params, field))

    def _write_metrics_file(self) -> None:
        # rewritten whole each epoch: after a resume it never holds epochs past the checkpoint
        lines = "".join(json.dumps(m) + "\n" for m in self.history)
        atomic_write(os.path.join(self.output_dir, METRICS_FILE), lambda fh: fh.write(lines))

    def fit(self, on_epoch: Optional[Callable[[dict, str], None]] = None) -> List[dict]:
        """Train up to ``train.epochs``; after each epoch save a checkpoint into
        ``output_dir/checkpoint`` and call ``on_epoch(metrics, checkpoint_dir)``."""
        if self.group.parallel:   # every rank starts from rank 0's weights (and, resumed, its checkpoint)
            state = data_parallel.broadcast_from_main(self.state() if self.group.main else None, self.group)
            if not self.group.main:
                self.load_state(state)
        checkpoint_dir = os.path.join(self.output_dir, "checkpoint")
        if self.group.main:
            os.makedirs(self.output_dir, exist_ok=True)
            write_yaml(os.path.join(self.output_dir, CONFIG_FILE), config_to_dict(self.config))
        while self.epoch < self.config.train.epochs:
            start = time.perf_counter()
            hyper_schedule.apply_values(self, hyper_schedule.values_at(self.hyper_schedule, self.epoch))
            lr = self.optimizers[next(iter(self.optimizers))].param_groups[0]["lr"]
            train_terms = self.train_epoch()
            for sched in self.schedules.values():
                sched.step()
            self.epoch += 1
            trained = time.perf_counter()
            if not self.group.main:
                continue
            metrics = self._epoch_metrics(train_terms, lr, trained - start)
            self.history.append(metrics)
            evaluated = time.perf_counter()
            save_checkpoint(checkpoint_dir, self.state())
            self._write_metrics_file()
            self.phase_seconds["train"] += trained - start
            self.phase_seconds["evaluate"] += evaluated - trained
            self.phase_seconds["checkpoint"] += time.perf_counter() - evaluated
            if on_epoch is not None:
                on_epoch(metrics, checkpoint_dir)
        return self.history
