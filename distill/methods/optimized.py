from typing import List

import torch
from torch import nn


class UnoptimizedModule(RuntimeError):
    """A method created trainable parameters that no optimizer updates: they would
    silently stay at their initialisation (declare them with train_with or own_optimizer)."""


def check_every_parameter_optimized(method: nn.Module, optimizers: List[torch.optim.Optimizer]) -> None:
    covered = {id(p) for opt in optimizers for group in opt.param_groups for p in group["params"]}
    stray = [name for name, p in method.named_parameters() if p.requires_grad and id(p) not in covered]
    if stray:
        raise UnoptimizedModule(f"method {type(method).__name__}: parameters {', '.join(stray[:4])} are in no optimizer; "
                                "declare their module with train_with(network, module) or own_optimizer(name, module, make)")
