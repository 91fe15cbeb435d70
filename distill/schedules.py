"""Optimisers (``optim.name``) and learning-rate schedules (``optim.schedule``), stepped once per epoch."""
import torch

from distill.registry import Registry

SCHEDULES: Registry = Registry("optim.schedule")
OPTIMIZERS: Registry = Registry("optim.name")


@SCHEDULES.register("step")
def step_schedule(optimizer, optim_cfg, epochs):
    return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=optim_cfg.milestones, gamma=optim_cfg.gamma)


@SCHEDULES.register("cosine")
def cosine_schedule(optimizer, optim_cfg, epochs):
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)


@SCHEDULES.register("constant")
def constant_schedule(optimizer, optim_cfg, epochs):
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)


@OPTIMIZERS.register("sgd")
def sgd(params, optim_cfg):
    # The fused kernel does weight decay, momentum and the update in one pass per tensor
    # (the default on CPU is 3-4 separate element-wise ops per tensor; on CUDA, a few
    # multi-tensor launches): the same update rule, deterministic, equal to the unfused
    # one up to floating-point rounding.
    fused = bool(params) and all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)
    optimizer = torch.optim.SGD(params, lr=optim_cfg.lr, momentum=optim_cfg.momentum,
                                weight_decay=optim_cfg.weight_decay, nesterov=optim_cfg.nesterov,
                                fused=fused or None)
    if fused and optim_cfg.momentum > 0:
        # The fused kernel wants a buffer for every parameter with a gradient once any has
        # one; a staged method (FitNet's hints first) gives some parameters their first
        # gradient later. A zero buffer gives the same first update (buf = grad).
        for p in params:
            optimizer.state[p]["momentum_buffer"] = torch.zeros_like(p, memory_format=torch.preserve_format)
    return optimizer


@OPTIMIZERS.register("adam")
def adam(params, optim_cfg):
    """Adam with torch's default betas (DAFL's MNIST student and generator); ``momentum`` and
    ``nesterov`` do not apply; ``weight_decay`` is Adam's L2 term (0 in DAFL's recipe)."""
    return torch.optim.Adam(params, lr=optim_cfg.lr, weight_decay=optim_cfg.weight_decay)


def build_optimizer(parameters, optim_cfg):
    return OPTIMIZERS.get(optim_cfg.name, "optim.name")(list(parameters), optim_cfg)


def build_schedule(optimizer, optim_cfg, epochs):
    return SCHEDULES.get(optim_cfg.schedule, "optim.schedule")(optimizer, optim_cfg, epochs)
