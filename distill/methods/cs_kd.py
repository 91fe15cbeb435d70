"""Class-wise self-knowledge distillation (Yun et al., 2020; the official
code's form): every sample x gets a partner x' of the same class (the
``same_class`` sampler); the network's prediction on x' (forward without
gradient, in training mode, as the official code) teaches its prediction on x:
``CE(z(x), y) + kd_weight * T^2 KL(p(x')^T || p(x)^T)``, T = 4, weight 1."""
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from distill.errors import ConfigError
from distill.losses import soft_kl, upcast
from distill.methods.base import DataNeeds, Method, Needs, weighted
from distill.methods.registry import METHODS
from distill.typed_dict import field


@METHODS.register("cs_kd")
class ClassWiseSelfKD(Method):
    @dataclass
    class Params:
        kd_weight: float = field(1.0, ge=0.0)
        temperature: float = field(4.0, gt=0.0)
        ce_weight: float = field(1.0, ge=0.0)

    needs = Needs()
    data = DataNeeds(pairs="same_class")

    @classmethod
    def check_config(cls, config, shapes) -> None:
        super().check_config(config, shapes)
        if config.data.classes_per_batch:
            raise ConfigError("data.classes_per_batch", "method cs_kd draws shuffled batches with a same-class partner "
                                                        "per sample; allowed: null (unset)")
        if config.data.batch_size < 2:
            raise ConfigError("data.batch_size", f"method cs_kd pairs samples within a batch of 2 or more; "
                                                 f"got {config.data.batch_size}")

    def losses(self, batch, outputs, teacher_output):
        p = self.params
        terms = {}
        for name in self.network_names:
            logits = outputs[name]["logits"]
            weighted(terms, f"ce.{name}", p.ce_weight, lambda: F.cross_entropy(upcast(logits), batch.labels))
            if p.kd_weight != 0.0:
                with torch.no_grad():
                    partner = self.ctx.networks[name](batch.partner_images)
                terms[f"kd.{name}"] = p.kd_weight * soft_kl(logits, partner, p.temperature)
        return terms
