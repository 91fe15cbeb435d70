"""One run on N data-parallel processes (``trial.workers``): every process holds the whole
model, trains on its share of each global batch, and before every optimizer step the
gradients of that optimizer's parameters are averaged over the processes (all-reduce: gloo
on CPU, NCCL on CUDA), so every process takes the same step: the step one process would
take on the whole global batch. Rank 0 evaluates, writes checkpoints and reports; at the
start every rank loads rank 0's state (a resumed run's checkpoint, or its initial weights).

Why averaging at each optimizer's step (``Optimizer.register_step_pre_hook``) and not
torch's ``DistributedDataParallel`` wrapper: the gradients are the same (DDP averages them
during backward), but methods run several backward passes per step with their own
optimizers (TADML's and the adversarial students' discriminators, DAFL's generator) and
read networks through ``features()`` as well as ``forward()``; DDP's hooks expect one
forward and one backward per step through the wrapped ``forward``. A hook on every optimizer
the trainer knows (the networks' and each method's own) averages all of them, whichever
method runs. What it gives up: DDP overlaps communication with backward.

The engine stays free of Ray: the caller (a Ray trial, or anything that starts N processes)
passes rank, world size and rank 0's address."""
import dataclasses
import datetime
import os
from typing import Any, List, Optional

import torch
import torch.distributed as dist

from distill.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class ParallelGroup:
    rank: int
    world: int
    address: str = ""   # host:port of rank 0's rendezvous

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def parallel(self) -> bool:
        return self.world > 1

    def shard(self, index: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
        """This process's contiguous share of a global batch's indices (sizes divide evenly:
        ``check_workers``)."""
        if index is None or not self.parallel:
            return index
        per = len(index) // self.world
        return index[self.rank * per:(self.rank + 1) * per]


SINGLE = ParallelGroup(0, 1)


def check_workers(config) -> None:
    """What a data-parallel run needs from its config, checked before any worker starts."""
    workers = config.trial.workers
    if workers == 1:
        return
    if config.data.batch_size % workers:
        raise ConfigError("data.batch_size", f"is the global batch, split evenly between trial.workers={workers}; "
                                             f"{config.data.batch_size} is not a multiple of {workers}")
    if config.data.classes_per_batch:
        raise ConfigError("data.classes_per_batch", "K-class batches are not split between trial.workers > 1; "
                                                    "use trial.workers: 1")


def check_sync_bn(config, device: torch.device) -> None:
    for i, net in enumerate(config.networks):
        if net.sync_bn and config.trial.workers > 1 and device.type != "cuda":
            raise ConfigError(f"networks[{i}].sync_bn", "torch's SyncBatchNorm runs on CUDA only; "
                                                       "allowed on CPU: false")


def join(group: ParallelGroup, device: torch.device, timeout_s: float = 1800.0) -> None:
    """Join the process group of a parallel run (rank 0 listens at ``group.address``)."""
    if not group.parallel or dist.is_initialized():
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend, init_method=f"tcp://{group.address}", rank=group.rank,
                            world_size=group.world, timeout=datetime.timedelta(seconds=timeout_s))


def leave(group: ParallelGroup) -> None:
    if group.parallel and dist.is_initialized():
        dist.destroy_process_group()


def _average(parameters: List[torch.nn.Parameter], world: int) -> None:
    """Average ``.grad`` over the processes; a parameter no process has a gradient for keeps none
    (the optimizer skips it, as it would in one process)."""
    by_dtype = {}
    for p in parameters:
        by_dtype.setdefault(p.dtype, []).append(p)
    for params in by_dtype.values():
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        present = torch.tensor([p.grad is not None for p in params], dtype=params[0].dtype,
                               device=params[0].device)
        flat = torch.cat([g.reshape(-1) for g in grads] + [present])
        dist.all_reduce(flat)
        flat.div_(world)
        offset = 0
        for p, g in zip(params, grads):
            n = g.numel()
            g.copy_(flat[offset:offset + n].view_as(g))
            offset += n
        for p, g, seen in zip(params, grads, flat[offset:].tolist()):
            p.grad = g if seen > 0 else None


def average_gradients_before_step(optimizer: torch.optim.Optimizer, group: ParallelGroup):
    """Every ``optimizer.step()`` first averages its parameters' gradients over the group."""
    if not group.parallel:
        return None
    params = [p for g in optimizer.param_groups for p in g["params"]]
    return optimizer.register_step_pre_hook(lambda opt, args, kwargs: _average(params, group.world))


def rank_seed(seed: int, epoch: int, rank: int) -> int:
    return (seed * 1_000_003 + epoch) * 1009 + rank


def reseed_other_ranks(seed: int, epoch: int, group: ParallelGroup) -> None:
    """Ranks 1..N-1 draw random numbers of their own each epoch (a data-free method's noise,
    dropout): with rank 0's stream, which every rank received at the start, they would all
    generate the same samples. Seeded by (seed, epoch, rank), so a resumed epoch draws the
    same; rank 0 keeps its own, checkpointed, stream."""
    if group.parallel and not group.main:
        torch.manual_seed(rank_seed(seed, epoch, group.rank))


def mean_over_group(values: dict, group: ParallelGroup) -> dict:
    """Per-epoch means of the loss terms, averaged over the processes (same keys on every
    rank), so every rank reports and checks the same numbers (a divergence stops them all)."""
    if not group.parallel:
        return values
    keys = sorted(values)
    flat = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64)
    dist.all_reduce(flat)
    return {k: float(v) / group.world for k, v in zip(keys, flat.tolist())}


def broadcast_from_main(obj: Any, group: ParallelGroup) -> Any:
    """Rank 0's ``obj`` on every rank (a state dict travels pickled, through the CPU)."""
    if not group.parallel:
        return obj
    box = [obj if group.main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier(group: ParallelGroup) -> None:
    if group.parallel:
        dist.barrier()


def free_address() -> str:
    """host:port that rank 0 can listen at (the caller passes it to every rank)."""
    import socket

    host = os.environ.get("DISTILL_RENDEZVOUS_HOST") or socket.gethostbyname(socket.gethostname())
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("", 0))
        return f"{host}:{sock.getsockname()[1]}"
