"""TADML, topology-guided adversarial deep mutual learning (seed 000), and ADML
(the same without the topology term). A documented reconstruction (SPEC 3.1);
for peer k and each partner j (terms averaged over partners):

    L_k  = CE(z_k, y)
         + w_js  * JS(p_k^T, sg p_j^T)       (or w_l1 * mean|z_k - sg z_j|, w_l2 * mean (z_k - sg z_j)^2)
         + w_adv * BCE(D_k(in_k), 1)         peer k tries to pass as its partner
         + w_top * L_T(e_k, sg e_j)          topology consistency of the batch's similarity graph
    L_Dk = BCE(D_k(sg in_j), 1) + BCE(D_k(sg in_k), 0)

``symmetric``: one discriminator per peer (the partner is "real"). ``fixed_real``:
one discriminator, a named peer is "real" and gets no adversarial term. Each
discriminator has its own Adam and takes ``disc_steps`` steps after every
``disc_every``-th network step. A zero weight removes a term and its computation."""
from dataclasses import dataclass
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from torch import nn

from distill.adversarial.denoising_autoencoder import DenoisingAutoencoder
from distill.adversarial.discriminator import Discriminator, parse_structure
from distill.adversarial.discriminator_inputs import DISC_INPUTS, build_input, input_size, needs_features
from distill.errors import ConfigError
from distill.losses import NEIGHBOURHOODS, js_divergence, l1_logits, l2_logits, topology_loss, upcast
from distill.methods.base import Method, Needs, weighted
from distill.methods.exit_heads import check_staged
from distill.methods.registry import METHODS
from distill.typed_dict import field

DISC_MODES = ("symmetric", "fixed_real")


def _bce(logits: torch.Tensor, real: bool) -> torch.Tensor:
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits, target)


@METHODS.register("tadml")
class TADML(Method):
    # Adam's betas (set when the adversary's optimizer is made) and the DAE's noise (when it is built)
    built_from = ("disc_beta1", "disc_beta2", "dae_noise")

    @dataclass
    class Params:
        temperature: float = field(1.0, gt=0.0)
        ce_weight: float = field(1.0, ge=0.0)
        js_weight: float = field(1.0, ge=0.0)
        l1_weight: float = field(0.0, ge=0.0)
        l2_weight: float = field(0.0, ge=0.0)
        adv_weight: float = field(1.0, ge=0.0)
        topology_weight: float = field(1.0, ge=0.0)
        topology_neighbourhood: str = field("all", choices=tuple(NEIGHBOURHOODS.names()))
        topology_k: int = field(16, ge=1)
        disc_structure: str = "128fc-256fc-128fc"
        disc_input: str = field("fc", choices=tuple(DISC_INPUTS.names()))
        disc_mode: str = field("symmetric", choices=DISC_MODES)
        real_peer: Optional[str] = None            # fixed_real: the peer shown as real (default: the first)
        disc_lr: float = field(1e-4, gt=0.0)
        disc_beta1: float = field(0.5, ge=0.0, le=1.0)
        disc_beta2: float = field(0.999, ge=0.0, le=1.0)
        disc_steps: int = field(1, ge=0)             # discriminator steps per update
        disc_every: int = field(1, ge=1)             # update the discriminators every n network steps
        dae_hidden: int = field(32, ge=1)
        dae_noise: float = field(0.1, ge=0.0)
        dae_weight: float = field(1.0, ge=0.0)       # the DAE's reconstruction loss, in its own update

        def validate(self, path: str) -> None:
            parse_structure(self.disc_structure, f"{path}.disc_structure")

    needs = Needs(taps=("logits", "embedding", "conv4"), min_networks=2)   # what is read depends on the params

    @classmethod
    def check_config(cls, config, shapes) -> None:
        super().check_config(config, shapes)
        p = config.method.params
        if p.adv_weight > 0 and p.disc_input.startswith("conv4"):
            check_staged(config, shapes, f"method.disc_input {p.disc_input} (the last stage's map)", min_stages=1)
        names = [n.name for n in config.networks]
        if p.real_peer is not None and p.real_peer not in names:
            raise ConfigError("method.real_peer", f"{p.real_peer!r} is not a network; allowed: {', '.join(names)}")

    def __init__(self, params, ctx):
        super().__init__(params, ctx)
        p, num_classes = params, ctx.num_classes
        self.adversarial = p.adv_weight > 0
        self.real_peer = p.real_peer or self.network_names[0]
        self.dae = DenoisingAutoencoder(num_classes, p.dae_hidden, p.dae_noise) if p.disc_input == "fc+dae" else None
        self.discriminators = nn.ModuleDict()
        if self.adversarial:
            size = input_size(p.disc_input, num_classes, p.dae_hidden)
            owners = self.network_names if p.disc_mode == "symmetric" else ["shared"]
            for owner in owners:
                self.discriminators[owner] = Discriminator(size, p.disc_structure)
        adversary = nn.ModuleDict({"discriminators": self.discriminators})
        if self.dae is not None:
            adversary["dae"] = self.dae
        self.disc_optimizer = None
        if any(True for _ in adversary.parameters()):
            self.disc_optimizer = self.own_optimizer(
                "adversary", adversary, lambda params: torch.optim.Adam(params, lr=p.disc_lr, betas=(p.disc_beta1, p.disc_beta2)),
                lr_field="disc_lr")

    def wants_features(self) -> bool:
        return self.params.topology_weight > 0 or (self.adversarial and needs_features(self.params.disc_input))

    def _partners(self, name):
        return [other for other in self.network_names if other != name]

    def _disc_input(self, features, labels):
        return build_input(self.params.disc_input, features, labels, self.num_classes, self.dae)

    def losses(self, batch, outputs, teacher_output) -> Dict[str, torch.Tensor]:
        p = self.params
        terms: Dict[str, torch.Tensor] = {}
        for name in self.network_names:
            out = outputs[name]
            logits = out["logits"]
            partners = self._partners(name)
            targets = [outputs[j]["logits"].detach() for j in partners]

            def over_partners(loss_fn, values):
                return sum(loss_fn(v) for v in values) / len(values)

            weighted(terms, f"ce.{name}", p.ce_weight, lambda: F.cross_entropy(upcast(logits), batch.labels))
            weighted(terms, f"js.{name}", p.js_weight, lambda: over_partners(lambda t: js_divergence(logits, t, p.temperature), targets))
            weighted(terms, f"l1.{name}", p.l1_weight, lambda: over_partners(lambda t: l1_logits(logits, t), targets))
            weighted(terms, f"l2.{name}", p.l2_weight, lambda: over_partners(lambda t: l2_logits(logits, t), targets))
            weighted(terms, f"topology.{name}", p.topology_weight, lambda: over_partners(
                lambda e: topology_loss(out["embedding"], e, p.topology_neighbourhood, p.topology_k),
                [outputs[j]["embedding"].detach() for j in partners]))
            if self.adversarial and not (p.disc_mode == "fixed_real" and name == self.real_peer):
                disc = self.discriminators[name if p.disc_mode == "symmetric" else "shared"]
                weighted(terms, f"adv.{name}", p.adv_weight, lambda: _bce(disc(self._disc_input(out, batch.labels)), real=True))
        return terms

    def _discriminator_loss(self, batch, outputs) -> Dict[str, torch.Tensor]:
        p = self.params
        inputs = {n: self._disc_input({k: v.detach() for k, v in outputs[n].items() if isinstance(v, torch.Tensor)},
                                      batch.labels)
                  for n in self.network_names}
        terms = {}
        if p.disc_mode == "symmetric":
            for name in self.network_names:
                disc = self.discriminators[name]
                real = sum(_bce(disc(inputs[j]), True) for j in self._partners(name)) / len(self._partners(name))
                terms[f"disc.{name}"] = real + _bce(disc(inputs[name]), False)
        else:
            disc = self.discriminators["shared"]
            fakes = [n for n in self.network_names if n != self.real_peer]
            terms["disc.shared"] = _bce(disc(inputs[self.real_peer]), True) + sum(_bce(disc(inputs[n]), False) for n in fakes) / len(fakes)
        if self.dae is not None and p.dae_weight > 0:
            for name in self.network_names:
                terms[f"dae.{name}"] = p.dae_weight * self.dae.reconstruction_loss(upcast(outputs[name]["logits"]))
        return terms

    def after_step(self, batch, outputs, teacher_output) -> Dict[str, torch.Tensor]:
        # self.steps counts network steps, this one included
        if self.disc_optimizer is None or self.params.disc_steps == 0 or self.steps % self.params.disc_every:
            return {}
        terms = {}
        for _ in range(self.params.disc_steps):
            terms = self._discriminator_loss(batch, outputs)
            self.disc_optimizer.zero_grad(set_to_none=True)
            sum(terms.values()).backward()
            self.disc_optimizer.step()
        return terms


@METHODS.register("adml")
class ADML(TADML):
    """TADML without the topology term (its default weight is 0)."""

    @dataclass
    class Params(TADML.Params):
        topology_weight: float = field(0.0, ge=0.0)
