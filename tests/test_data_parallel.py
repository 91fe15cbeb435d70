"""A data-parallel run (two gloo processes on CPU, ``distill/data_parallel.py``) takes the
steps one process takes on the combined batch: after k steps both ranks hold the single
process's parameters (networks without BatchNorm, no augmentation: the only difference
left is the order of floating-point sums). Also: the epoch's loss means agree on every
rank, rank 0 alone writes the run's files, and a config the split cannot serve is one
line naming the field."""
import os

import pytest
import torch
import torch.multiprocessing as mp

from distill.config import config_from_dict
from distill.data_parallel import ParallelGroup, check_sync_bn, check_workers, free_address, reseed_other_ranks
from distill.errors import ConfigError

TOLERANCE = dict(rtol=1e-5, atol=1e-6)   # float32 sums in another order; measured max difference below


def config(method, batch_size=32, epochs=2, workers=1, networks=None, **data):
    return config_from_dict({
        "method": method,
        "networks": networks or [{"name": "net0", "arch": "lenet5"}, {"name": "net1", "arch": "lenet5_half"}],
        "data": {"name": "digits32", "batch_size": batch_size, "train_limit": 128, "augment": False,
                 "val_subset": 64, **data},
        "optim": {"lr": 0.05, "momentum": 0.9, "schedule": "cosine"},
        "train": {"epochs": epochs, "threads": 1, "device": "cpu", "eval_test": False},
        "trial": {"workers": workers},
        "seed": 3,
    })


METHODS = {
    # two networks, each with its own optimizer, taught by each other
    "dml": {"name": "dml", "temperature": 2.0, "kl_weight": 1.0},
    # a discriminator with its own optimizer and its own backward pass each step
    "tadml": {"name": "tadml", "disc_structure": "64fc-64fc", "adv_weight": 0.5, "topology_weight": 0.0},
}


def _rank(rank, world, address, method, out):
    from distill.trainer import Trainer

    torch.set_num_threads(1)
    trainer = Trainer(config(METHODS[method], workers=world), output_dir=os.path.join(out, f"rank{rank}"),
                      group=ParallelGroup(rank, world, address))
    history = trainer.fit()
    torch.save({"params": {n: {k: v.clone() for k, v in net.state_dict().items()}
                           for n, net in trainer.networks.items()},
                "method": [p.detach().clone() for p in trainer.method.parameters()],
                "history": history}, os.path.join(out, f"rank{rank}.pt"))


@pytest.mark.parametrize("method", sorted(METHODS))
def test_two_gloo_workers_take_the_step_of_one_process_on_the_combined_batch(tmp_path, method):
    from distill.trainer import Trainer

    single = Trainer(config(METHODS[method]), output_dir=str(tmp_path / "single"))
    single.fit()
    os.environ["DISTILL_RENDEZVOUS_HOST"] = "127.0.0.1"
    mp.spawn(_rank, args=(2, free_address(), method, str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    worst = 0.0
    for name, net in single.networks.items():
        for key, value in net.state_dict().items():
            if not value.is_floating_point():
                continue
            for rank in ranks:
                torch.testing.assert_close(rank["params"][name][key], value, **TOLERANCE)
                worst = max(worst, float((rank["params"][name][key] - value).abs().max()))
    for mine, theirs in zip(ranks[0]["method"], single.method.parameters()):   # the discriminator too
        torch.testing.assert_close(mine, theirs.detach(), **TOLERANCE)
    assert worst < 1e-4, worst
    # the loss means every rank computed are one number, and rank 0's history is the single run's
    assert ranks[1]["history"] == [] and len(ranks[0]["history"]) == 2
    assert ranks[0]["history"][-1]["loss.total"] == pytest.approx(single.history[-1]["loss.total"], rel=1e-5)
    assert (tmp_path / "rank0" / "checkpoint").is_dir() and not (tmp_path / "rank1").exists()


def test_the_global_batch_must_split_evenly():
    with pytest.raises(ConfigError, match=r"data.batch_size.*multiple of 3"):
        check_workers(config(METHODS["dml"], batch_size=32, workers=3))
    check_workers(config(METHODS["dml"], batch_size=33, workers=3))


def test_sync_bn_needs_cuda():
    nets = [{"name": "net0", "arch": "resnet8", "sync_bn": True}, {"name": "net1", "arch": "resnet8"}]
    with pytest.raises(ConfigError, match=r"networks\[0\].sync_bn"):
        check_sync_bn(config(METHODS["dml"], workers=2, networks=nets), torch.device("cpu"))
    check_sync_bn(config(METHODS["dml"], workers=2, networks=nets), torch.device("cuda"))
    check_sync_bn(config(METHODS["dml"], workers=1, networks=nets), torch.device("cpu"))


def test_a_shard_is_a_contiguous_equal_part():
    index = torch.arange(12)
    parts = [ParallelGroup(r, 3).shard(index) for r in range(3)]
    assert torch.equal(torch.cat(parts), index) and {len(p) for p in parts} == {4}
    assert ParallelGroup(0, 1).shard(index) is index


def test_ranks_other_than_0_draw_their_own_random_numbers_each_epoch():
    """A data-free method's noise must differ between ranks (else every rank generates the same
    samples) and be the same when an epoch is run again after a resume."""
    def draw(rank, epoch):
        torch.manual_seed(0)   # the stream every rank received from rank 0
        reseed_other_ranks(seed=3, epoch=epoch, group=ParallelGroup(rank, 2))
        return torch.rand(4)

    torch.manual_seed(0)
    expected = torch.rand(4)
    assert torch.equal(draw(0, 1), expected)               # rank 0 keeps its (checkpointed) stream
    assert not torch.equal(draw(1, 1), draw(0, 1))
    assert torch.equal(draw(1, 1), draw(1, 1)) and not torch.equal(draw(1, 1), draw(1, 2))
