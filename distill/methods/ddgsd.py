"""Data-distortion guided self-distillation (Xu & Liu, 2019; recalled, its
weights not retrieved): two independent augmentations x', x'' of each image
(``views: 2``) through the same network, as one forward of the 2B images:
``CE(z', y) + CE(z'', y) + kl_weight [T^2 KL(sg p'^T || p''^T) + T^2 KL(sg p''^T || p'^T)]
+ mmd_weight * MMD(f', f'')``, MMD with a linear kernel on the pooled
embeddings. Defaults: both weights 1, T = 1. BatchNorm sees both views in one batch."""
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from distill.losses import soft_kl, upcast
from distill.losses.mmd import linear_mmd
from distill.methods.base import DataNeeds, Method, Needs, weighted
from distill.methods.registry import METHODS
from distill.typed_dict import field


@METHODS.register("ddgsd")
class DataDistortionSelfDistillation(Method):
    @dataclass
    class Params:
        kl_weight: float = field(1.0, ge=0.0)
        mmd_weight: float = field(1.0, ge=0.0)
        temperature: float = field(1.0, gt=0.0)
        ce_weight: float = field(1.0, ge=0.0)

    needs = Needs(taps=("logits", "embedding"))
    data = DataNeeds(views=2)

    def wants_features(self) -> bool:
        return self.params.mmd_weight > 0

    def train_step(self, batch, engine):
        # both views in one forward: one pass over the weights for 2B images
        with engine.autocast():
            outputs = engine.run_networks(torch.cat(batch.views[:2]), self.wants_features())
            terms = self.losses(batch, outputs, None)
        engine.optimize_networks(terms)
        return terms

    def losses(self, batch, outputs, teacher_output):
        p = self.params
        labels = batch.labels
        terms = {}
        for name in self.network_names:
            first, second = outputs[name]["logits"].chunk(2)
            weighted(terms, f"ce.{name}", p.ce_weight, lambda: F.cross_entropy(upcast(first), labels)
                     + F.cross_entropy(upcast(second), labels))
            weighted(terms, f"kl.{name}", p.kl_weight, lambda: soft_kl(second, first.detach(), p.temperature)
                     + soft_kl(first, second.detach(), p.temperature))
            if p.mmd_weight != 0.0:
                f1, f2 = outputs[name]["embedding"].chunk(2)
                terms[f"mmd.{name}"] = p.mmd_weight * linear_mmd(f1, f2)
        return terms
