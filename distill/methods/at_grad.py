"""Gradient-based attention transfer (Zagoruyko & Komodakis 2017, section 3.2, recalled from the
paper; ``distill/losses/input_gradient.py`` states the conventions): the student's input gradient
follows the teacher's, ``ce_weight CE + grad_weight * 1/2 ||J_S - J_T||_2`` with ``J = dCE/dx``,
by double backpropagation through the student; the teacher's J needs the frozen teacher run with
autograd to its input (``Needs.teacher_grad``). ``flip_weight`` adds the flip-invariance
regulariser on the student's own J. beta (``grad_weight``) is ours: the value the paper used could
not be checked. Its own training step: one forward with the input as a leaf gives the CE and J_S."""
from dataclasses import dataclass

from distill.errors import ConfigError
from distill.losses.input_gradient import flip_invariance_loss, gradient_transfer_loss, input_gradient
from distill.methods.base import Method, Needs, weighted
from distill.methods.registry import METHODS
from distill.typed_dict import field


@METHODS.register("at_grad")
class GradientAttentionTransfer(Method):
    @dataclass
    class Params:
        grad_weight: float = field(10.0, ge=0.0)      # beta (ours: the paper's value could not be checked)
        flip_weight: float = field(0.0, ge=0.0)       # beta of the flip-invariance regulariser
        ce_weight: float = field(1.0, ge=0.0)

    needs = Needs(taps=("logits",), teacher=True, teacher_taps=("logits",), teacher_grad=True)

    @classmethod
    def check_config(cls, config, shapes) -> None:
        super().check_config(config, shapes)
        from distill.data import DATA_INFO

        info = DATA_INFO.get(config.data.name, "data.name")
        if config.method.params.flip_weight > 0 and not info.flip:
            raise ConfigError("method.flip_weight", f"{config.data.name} is not flip-symmetric (a mirrored digit is "
                                                    "another image), so flip invariance does not hold; allowed: 0 "
                                                    "on this data set")

    def train_step(self, batch, engine):
        p = self.params
        terms = {}
        with engine.autocast():
            target = None
            if p.grad_weight > 0:
                target, _ = input_gradient(self.teacher, batch.images, batch.labels, create_graph=False)
            for name in self.network_names:
                net = engine.networks[name]
                j, ce = input_gradient(net, batch.images, batch.labels, create_graph=True)
                weighted(terms, f"ce.{name}", p.ce_weight, lambda: ce)
                weighted(terms, f"grad.{name}", p.grad_weight, lambda: gradient_transfer_loss(j, target))
                if p.flip_weight > 0:
                    flipped, _ = input_gradient(net, batch.images.flip(-1), batch.labels, create_graph=True)
                    weighted(terms, f"flip.{name}", p.flip_weight, lambda: flip_invariance_loss(j, flipped))
        engine.optimize_networks(terms)
        return terms
