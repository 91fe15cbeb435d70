"""What the exit-based self-distillation methods (BYOT, SCD) share: every
network carries auxiliary exits (``distill/models/exits.py``) trained with it,
and evaluation reports each exit's accuracy and the exits' ensemble (the mean
of the exits' logits, as BYOT's code) beside the network's own deepest exit."""
import torch

from distill.errors import ConfigError
from distill.evaluators.multi_head import MultiHeadAccuracy
from distill.methods.base import Method
from distill.models.exits import build_exits, exit_outputs

EXIT_TAPS = ("logits", "embedding", "stage_outputs")


def check_staged(config, shapes, purpose: str, min_stages: int = 2) -> None:
    """Every network has ``min_stages`` stages or more: one line naming its ``arch`` field otherwise."""
    from distill.models import MODELS

    for i, (net, shape) in enumerate(zip(config.networks, shapes.networks.values())):
        if len(shape.stage_channels) < min_stages:
            staged = sorted(n for n in MODELS.names() if n.startswith(("resnet", "wrn", "lenet")))
            raise ConfigError(f"networks[{i}].arch",
                              f"{net.arch} has {len(shape.stage_channels)} stage(s); {purpose} needs a model with "
                              f"{min_stages} or more stages; allowed: {', '.join(staged)}")


class ExitMethod(Method):
    @classmethod
    def check_config(cls, config, shapes) -> None:
        super().check_config(config, shapes)
        check_staged(config, shapes, f"method {config.method.name} (an exit after each stage)")

    def __init__(self, params, ctx):
        super().__init__(params, ctx)
        self.exits = {name: self.train_with(name, build_exits(ctx.stage_channels[name], ctx.embedding_dims[name],
                                                               ctx.num_classes))
                      for name in self.network_names}

    def wants_features(self) -> bool:
        return True

    def exit_outputs(self, name: str, features: dict):
        """(embeddings, logits) of every exit of network ``name``, shallowest first."""
        return exit_outputs(self.exits[name], features)

    def _heads(self, name: str, features: dict):
        logits = self.exit_outputs(name, features)[1]
        return logits, torch.stack([z.float() for z in logits]).mean(0)

    @classmethod
    def metric_names(cls, params, shapes):
        return [m for name, shape in shapes.networks.items()
                for m in MultiHeadAccuracy.names_for(name, len(shape.stage_channels), "exit")]

    def evaluators(self) -> list:
        counts = {name: len(self.exits[name]) + 1 for name in self.network_names}
        return [MultiHeadAccuracy(self.network_names, counts, self._heads, kind="exit")]
