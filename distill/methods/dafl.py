"""DAFL, data-free learning of student networks (Chen et al., ICCV 2019), with the
official code's conventions.

Each step draws ``data.batch_size`` images from the input source (DAFL's generator,
or normal noise for the baselines; ``data_free_inputs.py``), runs the frozen teacher
on them with autograd on (its weights stay frozen; gradients reach the generator),
and sums, in one backward pass:

- the generator's terms on the teacher's outputs: ``one_hot`` (CE against the
  teacher's own argmax), ``activation`` (-mean |f_T|, f_T the teacher's
  ``embedding``: LeNet-5's 120-d conv3 output, a ResNet's pooled 512-d feature) and
  ``entropy`` (sum_c pbar_c log10 pbar_c), each times its weight;
- the student's ``kd``: KL(p_T || p_S) at T = 1 on the *detached* images and teacher
  logits, so it trains only the student.

Then the generator's Adam and the student's optimiser step together, as in the
official loop. No real training image is read: ``DataNeeds(real_data=False)`` makes
every batch empty and the trainer holds no training split on the device; steps per
epoch are ``iterations_per_epoch`` (120 in the paper).

Defaults are the paper's MNIST setting (weights 1 / 0.1 / 5, generator lr 0.2,
latent 100); CIFAR-10 uses 0.05 / 0.01 / 5 and CIFAR-100 0.5 / 0.1 / 20 (latent 1000,
generator lr 0.02), set by the ``dafl`` sweep. Evaluators: the student's data-free
agreement with the teacher on fresh generated images (``agreement.<net>``)."""
from dataclasses import dataclass
from typing import Optional

import torch

from distill.errors import ConfigError
from distill.evaluators.data_free import TeacherAgreement
from distill.losses.data_free import activation_loss, data_free_kd_loss, information_entropy_loss, one_hot_loss
from distill.methods.base import DataNeeds, Method, Needs, weighted
from distill.methods.data_free_inputs import build_source
from distill.methods.registry import METHODS
from distill.typed_dict import field

# the agreement score's noise stream, apart from the training stream (its own fixed seed)
AGREEMENT_SEED_OFFSET = 7919


@METHODS.register("dafl")
class DAFL(Method):
    @dataclass
    class Params:
        inputs: str = field("generator", choices=("generator", "normal_noise"))
        latent_dim: int = field(100, ge=1)
        image_size: Optional[int] = field(None, ge=4)   # None: the data set's (the teacher's input size)
        one_hot_weight: float = field(1.0, ge=0.0)
        activation_weight: float = field(0.1, ge=0.0)
        entropy_weight: float = field(5.0, ge=0.0)
        kd_weight: float = field(1.0, ge=0.0)
        generator_lr: float = field(0.2, gt=0.0)
        generator_width: int = field(128, ge=2)        # the official 128; smaller for CPU smoke runs
        iterations_per_epoch: int = field(120, ge=1)
        agreement_samples: int = field(1024, ge=1)     # fresh generated images behind agreement.<net>

    needs = Needs(teacher=True, teacher_taps=("logits", "embedding"), teacher_grad=True, min_networks=1)

    @classmethod
    def data_needs(cls, params) -> DataNeeds:
        return DataNeeds(real_data=False, iterations_per_epoch=params.iterations_per_epoch, labels=False)

    @classmethod
    def check_config(cls, config, shapes) -> None:
        if config.teacher is None:
            raise ConfigError("teacher", "method dafl needs a trained teacher {arch, checkpoint or epochs}: "
                                         "the generator learns from it and the student distils it")
        super().check_config(config, shapes)
        p = config.method.params
        height, width = shapes.image_size
        if height != width or height % 4:
            raise ConfigError("data.name", f"DAFL's generator makes square images whose side is a multiple of 4; "
                                           f"data set {config.data.name} has {height}x{width}")
        if p.image_size is not None and p.image_size != height:
            raise ConfigError("method.image_size", f"the generator's {p.image_size}x{p.image_size} images do not fit "
                                                   f"teacher {config.teacher.arch}, which takes {height}x{width} "
                                                   f"({config.data.name}); allowed: {height} or leave it unset")

    @classmethod
    def metric_names(cls, params, shapes):
        return TeacherAgreement.names_for(list(shapes.networks))

    def __init__(self, params, ctx):
        super().__init__(params, ctx)
        self.image_shape = tuple(ctx.input_shape)
        self.batch_size = ctx.batch_size
        self.memory_format = ctx.memory_format
        # the networks' layout for the generator too: on CPU a channels_last teacher fed NCHW images
        # converts at every layer (measured: 14% of the generator-and-teacher time)
        self.source = build_source(params.inputs, params.latent_dim, self.image_shape,
                                   params.generator_width).to(memory_format=self.memory_format)
        if self.source.trainable:
            self.own_optimizer("source", self.source, lambda ps: torch.optim.Adam(ps, lr=params.generator_lr),
                               lr_field="generator_lr")
        else:
            self.owned["source"] = self.source
        self.noise = torch.Generator().manual_seed(ctx.seed)
        self.agreement_seed = ctx.seed + AGREEMENT_SEED_OFFSET

    def teacher_taps(self) -> tuple:
        return ("logits", "embedding") if self.params.activation_weight else ("logits",)

    def train_step(self, batch, engine):
        p = self.params
        with engine.autocast():
            images = self.source.sample(self.batch_size, self.noise, engine.device).contiguous(
                memory_format=self.memory_format)
            teacher = engine.run_teacher(images, self.teacher_taps())
            t_logits = teacher["logits"]
            terms = {}
            if self.source.trainable:
                weighted(terms, "one_hot", p.one_hot_weight, lambda: one_hot_loss(t_logits))
                weighted(terms, "activation", p.activation_weight, lambda: activation_loss(teacher["embedding"]))
                weighted(terms, "entropy", p.entropy_weight, lambda: information_entropy_loss(t_logits))
            students = engine.run_networks(images.detach(), False)
            target = t_logits.detach()
            for name in self.network_names:
                weighted(terms, f"kd.{name}", p.kd_weight,
                         lambda: data_free_kd_loss(students[name]["logits"], target))
        if not terms:
            engine.last_total = torch.zeros((), device=engine.device)
            return terms
        total = sum(terms.values())
        # one backward of L_G + L_KD, then the generator and every student step together
        engine.step(total, list(self.optimizers.values()) + list(engine.optimizers.values()))
        engine.last_total = total.detach()
        return terms

    def sample_images(self, n: int, rng: torch.Generator) -> torch.Tensor:
        """``n`` images from the current input source (for the agreement score and reports)."""
        return self.source.sample(n, rng, self.ctx.device).contiguous(memory_format=self.memory_format)

    def evaluators(self):
        return [TeacherAgreement(self.network_names, self.sample_images, self.teacher, self.ctx.networks,
                                 self.params.agreement_samples, self.agreement_seed, max(self.batch_size, 1))]

    def method_state(self) -> dict:
        return {**super().method_state(), "noise": self.noise.get_state()}

    def load_method_state(self, state: dict) -> None:
        super().load_method_state(state)
        self.noise.set_state(state["noise"])
