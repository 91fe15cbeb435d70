"""Data-free distillation from a teacher's meta-data (Lopes, Fenu and Starner 2017),
the baseline of DAFL's Table 1 (92.47% on MNIST), as its authors' code builds its
``top_layer`` variant (``compute_stats``, ``optimize_dataset``, ``distill``).

Of the paper's four kinds of meta-data (top layer, all layers, and two spectral
ones), this is the top-layer one: the only statistics it needs are the teacher's
per-class mean and covariance of its logits on its own training split, which the
teacher store records beside every teacher it trains (``distill/activation_stats.py``).
A teacher trained before that has none: validation says so in one line.

1. Reconstruction (once, before the first step): for each class ``c`` and each of
   ``batches_per_class`` batches of ``reconstruction_batch`` images, inputs start as
   pixels drawn from N(``init_mean``, ``init_std``) (the reference's MNIST values;
   0.44 / 0.29 for CelebA) and are optimised by Adam (``input_lr``, ``reconstruction_steps``
   steps) to minimise ``mean((relu(z) - relu(f_T(x) / T))^2)``, ``z`` a draw per image of
   ``mean_c / T + g @ F`` with ``g ~ N(0, I)``. ``F`` is, as in the reference,
   the covariance matrix itself (``covariance_factor: reference``; its samples have
   covariance ``C^2``), or its Cholesky factor (``cholesky``: samples with covariance ``C``).
   Adam's state is per element and the batches' losses add, so all batches are optimised
   together in chunks, with the numbers of separate runs.
2. Distillation: each step takes one reconstructed batch (one class, as the reference's
   saved batches), in a fresh shuffled order each pass, and trains every student on
   ``-sum softmax(t/T) log softmax(s/T)`` (no T^2, ``temperature`` 8 as the reference),
   the teacher's logits computed once on the reconstructed images.

No real training image is read (``DataNeeds(real_data=False)``). The reconstructed set
is not checkpointed (it is large): a resumed run rebuilds it from its own seed, so it is
the same set; the batch order's generator is checkpointed."""
from dataclasses import dataclass
from typing import Optional

import torch

from distill.activation_stats import LAYER, load_stats, stats_path
from distill.errors import ConfigError
from distill.losses.meta_data import soft_cross_entropy, top_layer_reconstruction_loss
from distill.methods.base import DataNeeds, Method, Needs, weighted
from distill.methods.registry import METHODS
from distill.typed_dict import field

RECONSTRUCTION_SEED_OFFSET = 104729   # the reconstruction's stream, apart from the batch order's
CHUNK_IMAGES = 2048                   # images optimised together (memory, not numbers)


@METHODS.register("meta_data")
class MetaData(Method):
    # the reconstruction runs once, when the method is built, and its set is scaled by T then
    built_from = ("temperature", "init_mean", "init_std", "input_lr")
    @dataclass
    class Params:
        temperature: float = field(8.0, gt=0.0)
        kd_weight: float = field(1.0, ge=0.0)
        batches_per_class: int = field(100, ge=1)
        reconstruction_batch: int = field(64, ge=1)
        reconstruction_steps: int = field(1000, ge=1)
        # the objective's learning rate in the reference (its comment's original value)
        input_lr: float = field(0.07, gt=0.0)
        init_mean: float = 0.15
        init_std: float = field(0.1, ge=0.0)
        covariance_factor: str = field("reference", choices=("reference", "cholesky"))
        # one pass over MNIST's 10 x 100 reconstructed batches
        iterations_per_epoch: int = field(1000, ge=1)
        stats_file: Optional[str] = None   # None: activation_stats.pt beside the teacher's checkpoint

    needs = Needs(teacher=True, teacher_grad=True, min_networks=1)

    @classmethod
    def data_needs(cls, params) -> DataNeeds:
        return DataNeeds(real_data=False, iterations_per_epoch=params.iterations_per_epoch, labels=False)

    @classmethod
    def check_teacher_files(cls, config, teacher_checkpoint: str) -> None:
        import os

        explicit = config.method.params.stats_file
        path = stats_path(teacher_checkpoint, explicit)
        field_name = "method.stats_file" if explicit else "teacher"
        if not os.path.isfile(path):
            raise ConfigError(field_name, f"teacher {config.teacher.arch} has no recorded activation statistics "
                                          f"({path} is missing: it was trained before the teacher store recorded "
                                          "them); the meta-data baseline needs them: delete its store folder to "
                                          "train it again, or give method.stats_file")
        try:
            stats = load_stats(path)
            valid = (isinstance(stats, dict) and stats.get("layer") == LAYER
                     and stats["mean"].shape[0] == stats["count"].shape[0])
        except Exception:   # not a torch file, or one of other tensors: the same answer
            valid = False
        if not valid:
            raise ConfigError(field_name, f"{path} is not a teacher's logits statistics")

    def __init__(self, params, ctx):
        super().__init__(params, ctx)
        if ctx.teacher_checkpoint is None:
            # the trainer fills it whenever config.teacher is set, which check_config requires
            raise ValueError("MetaData is built by the trainer, which gives it the teacher's checkpoint")
        stats = load_stats(stats_path(ctx.teacher_checkpoint, params.stats_file))
        temperature = params.temperature
        self.mean = (stats["mean"] / temperature).float()
        cov = stats["cov"] / temperature ** 2
        if params.covariance_factor == "cholesky":
            # a class whose logits are (nearly) collinear gets the smallest jitter that factors
            eye = torch.eye(cov.shape[-1], dtype=cov.dtype)
            cov = torch.linalg.cholesky(cov + 1e-9 * eye, upper=True)
        self.factor = cov.float()   # draws are g @ factor (row vectors, as the reference)
        self.image_shape = tuple(ctx.input_shape)
        self.pixel_mean = torch.tensor(ctx.input_mean or (0.0,), dtype=torch.float32).view(1, -1, 1, 1)
        self.pixel_std = torch.tensor(ctx.input_std or (1.0,), dtype=torch.float32).view(1, -1, 1, 1)
        self.memory_format = ctx.memory_format
        self.reconstruction_seed = ctx.seed + RECONSTRUCTION_SEED_OFFSET
        self.order = torch.Generator().manual_seed(ctx.seed)
        self.images = self.targets = None      # the reconstructed set and the teacher's logits on it
        self.queue = []                        # batch indices left in this pass

    def normalize(self, pixels: torch.Tensor) -> torch.Tensor:
        device = pixels.device
        x = (pixels - self.pixel_mean.to(device)) / self.pixel_std.to(device)
        return x.contiguous(memory_format=self.memory_format)

    def starting_points(self):
        """Each batch's class, starting pixels and drawn top-layer targets, from the run's seed:
        (batches,), (batches, reconstruction_batch, C, H, W), (batches, reconstruction_batch, classes)."""
        p = self.params
        rng = torch.Generator().manual_seed(self.reconstruction_seed)
        classes, per_batch = self.mean.shape[0], p.reconstruction_batch
        labels = torch.arange(classes).repeat_interleave(p.batches_per_class)   # one class per batch
        starts = torch.randn((len(labels), per_batch) + self.image_shape, generator=rng) * p.init_std + p.init_mean
        draws = torch.randn(len(labels), per_batch, self.mean.shape[1], generator=rng)
        return labels, starts, self.mean[labels][:, None, :] + draws @ self.factor[labels]

    def reconstruct(self, device) -> torch.Tensor:
        """The transfer set, (classes x batches_per_class, reconstruction_batch, C, H, W) pixels."""
        p = self.params
        labels, starts, targets = self.starting_points()
        done = []
        chunk = max(1, CHUNK_IMAGES // p.reconstruction_batch)
        for first in range(0, len(labels), chunk):
            x = starts[first:first + chunk].to(device).requires_grad_(True)
            target = targets[first:first + chunk].to(device)
            opt = torch.optim.Adam([x], lr=p.input_lr)
            for _ in range(p.reconstruction_steps):
                scaled = self.teacher(self.normalize(x.flatten(0, 1))) / p.temperature
                # each batch's own mean, summed over batches: separate Adam runs' numbers
                loss = top_layer_reconstruction_loss(scaled, target.flatten(0, 1)) * x.shape[0]
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            done.append(x.detach())
        return torch.cat(done)

    def prepare(self, engine) -> None:
        with torch.enable_grad():
            self.images = self.reconstruct(engine.device)
        with torch.no_grad():
            self.targets = torch.stack([self.teacher(self.normalize(batch)) for batch in self.images]).float()

    def next_batch(self) -> int:
        if not self.queue:
            self.queue = torch.randperm(len(self.images), generator=self.order).tolist()
        return self.queue.pop()

    def train_step(self, batch, engine):
        if self.images is None:
            self.prepare(engine)
        p = self.params
        index = self.next_batch()
        images = self.normalize(self.images[index])
        with engine.autocast():
            students = engine.run_networks(images, False)
            terms = {}
            for name in self.network_names:
                weighted(terms, f"kd.{name}", p.kd_weight,
                         lambda: soft_cross_entropy(students[name]["logits"], self.targets[index], p.temperature))
        engine.optimize_networks(terms)
        return terms

    def method_state(self) -> dict:
        return {**super().method_state(), "order": self.order.get_state(), "queue": list(self.queue)}

    def load_method_state(self, state: dict) -> None:
        super().load_method_state(state)
        self.order.set_state(state["order"])
        self.queue = list(state["queue"])

