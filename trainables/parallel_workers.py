"""The other ranks of a trial on ``trial.workers`` > 1 processes.

The trial function is rank 0 and runs in its placement group's first bundle (Tune reserved
one bundle per worker, ``PACK`` or ``SPREAD``: ``platform/tuner_factory.py``); it starts
one Ray actor per further bundle, each running the same engine run as rank N of a torch
process group, and they rendezvous at rank 0's address. Why workers we start in Tune's
placement group rather than Ray Train's ``TorchTrainer`` inside the trial: the trial stays
one Tune function trainable, so reporting, checkpoints, resume, kept failures and PBT's
clones work as for a one-process trial, with no second controller or checkpoint store per
trial; the price is the rendezvous and the actors' lifetime, which live here. The actors
are owned by the trial's process, so Ray ends them with it; a dead actor breaks rank 0's
next all-reduce, which fails the trial like any other error."""
import contextlib
import os
from typing import List, Tuple

import ray
from ray.util.placement_group import get_current_placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy


@ray.remote(max_restarts=0)
class ParallelRank:
    def where(self) -> Tuple[str, int]:
        return ray.get_runtime_context().get_node_id(), os.getpid()

    def run(self, resolved: dict, rank: int, world: int, address: str, output_dir: str) -> None:
        from distill.config import config_from_dict
        from distill.data_parallel import ParallelGroup, leave
        from distill.trainer import Trainer

        from distill.trainer import TrainingDiverged

        group = ParallelGroup(rank, world, address)
        try:
            Trainer(config_from_dict(resolved), output_dir=output_dir, group=group).fit()
        except TrainingDiverged:
            pass   # every rank sees the same loss means: rank 0 reports the divergence
        finally:
            leave(group)


def rendezvous_address() -> str:
    """rank 0's node address and a free port there (every rank connects to it)."""
    from distill.data_parallel import free_address

    os.environ.setdefault("DISTILL_RENDEZVOUS_HOST", ray.util.get_node_ip_address())
    return free_address()


def start_ranks(resolved: dict, address: str, output_dir: str, cpus: float, gpus: float) -> Tuple[List, List, List]:
    """Ranks 1..N-1 in bundles 1..N-1 of this trial's placement group: (actors, run refs, (node id,
    pid) of each)."""
    world = resolved["trial"]["workers"]
    group = get_current_placement_group()
    actors = [ParallelRank.options(
        num_cpus=cpus, num_gpus=gpus,
        scheduling_strategy=PlacementGroupSchedulingStrategy(placement_group=group, placement_group_bundle_index=rank),
    ).remote() for rank in range(1, world)]
    places = ray.get([actor.where.remote() for actor in actors])
    runs = [actor.run.remote(resolved, rank, world, address, output_dir)
            for rank, actor in zip(range(1, world), actors)]
    return actors, runs, places


def stop_ranks(actors) -> None:
    for actor in actors:
        ray.kill(actor, no_restart=True)


@contextlib.contextmanager
def parallel_ranks(resolved: dict, output_dir: str):
    """(this process's group, the other ranks' (node id, pid)): a one-process group for
    ``trial.workers: 1``; otherwise ranks 1..N-1 run while the body runs rank 0, and an
    error of theirs is the trial's."""
    from ray import tune

    from distill.data_parallel import SINGLE, ParallelGroup, leave

    world = resolved["trial"]["workers"]
    if world == 1:
        yield SINGLE, []
        return
    bundle = tune.get_context().get_trial_resources().bundles[-1]
    address = rendezvous_address()
    actors, runs, places = start_ranks(resolved, address, output_dir, bundle.get("CPU", 1), bundle.get("GPU", 0))
    group = ParallelGroup(0, world, address)
    try:
        yield group, places
        ray.get(runs)
    finally:
        leave(group)
        stop_ranks(actors)
