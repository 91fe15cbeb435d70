"""``python -m distill.train --config FILE [--set key=value ...] [--resume]``:
train one run from a YAML config; prints one line per epoch and writes
config.yaml, metrics.jsonl and checkpoint/ into the output folder. A config with
``trial.workers: N`` (an exported data-parallel trial) runs as N local processes
(gloo on CPU, NCCL on one GPU each), the ranks the sweep's trial ran, so it gives the
trial's numbers."""
import argparse
import os

from distill.checkpoint import CHECKPOINT_FILE
from distill.cli_errors import exit_on_config_error
from distill.config import load_config


def format_epoch(metrics: dict, epochs: int, kind: str = "acc") -> str:
    """One line per epoch; ``kind``: the data set's task's primary metric (``acc``, re-id ``map``)."""
    val, test = f"val_{kind}.", f"test_{kind}."
    values = " ".join(f"{k[len(val):]}={v:.2f}" for k, v in metrics.items()
                      if k.startswith(val) and k not in (f"{val}mean", f"{val}max"))
    tests = " ".join(f"{k[len(test):]}={v:.2f}" for k, v in metrics.items() if k.startswith(test))
    line = (f"epoch {metrics['epoch']}/{epochs}  loss {metrics['loss.total']:.4f}  val_{kind} {values}"
            f"  lr {metrics['lr']:.4g}  {metrics['images_per_second']:.0f} img/s")
    return line + (f"  test_{kind} {tests}" if tests else "")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m distill.train", description=__doc__)
    parser.add_argument("--config", required=True, help="YAML experiment config")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="dotted override, e.g. method.temperature=4 (repeatable)")
    parser.add_argument("--output", help="output folder (default: the config's output_dir)")
    parser.add_argument("--resume", action="store_true", help="continue from OUTPUT/checkpoint if it exists")
    args = parser.parse_args(argv)
    with exit_on_config_error(parser.prog):
        config = load_config(args.config, args.set)
        if config.trial.workers > 1:
            _run_ranks(config, args)
            return
        _run_rank(0, 1, "", config, args)


def _run_rank(rank: int, world: int, address: str, config, args) -> None:
    from distill.data_parallel import ParallelGroup, leave
    from distill.trainer import Trainer  # torch-heavy: after the config is known to be valid

    group = ParallelGroup(rank, world, address)
    try:
        trainer = Trainer(config, args.output, group=group)
        if not group.main:
            trainer.fit()
            return
        checkpoint = os.path.join(trainer.output_dir, "checkpoint", CHECKPOINT_FILE)
        if args.resume and os.path.exists(checkpoint):
            trainer.resume(checkpoint)
            print(f"resumed from epoch {trainer.epoch}")
        kind = trainer.task.primary
        trainer.fit(lambda metrics, _: print(format_epoch(metrics, config.train.epochs, kind), flush=True))
        print(f"wrote {trainer.output_dir}")
    finally:
        leave(group)


def _spawned(rank: int, world: int, address: str, config, args) -> None:
    with exit_on_config_error("python -m distill.train"):
        _run_rank(rank, world, address, config, args)


def _run_ranks(config, args) -> None:
    """Every rank a process of its own on this machine; rank 0 prints and writes."""
    import torch.multiprocessing as mp

    from distill.data_parallel import free_address

    os.environ.setdefault("DISTILL_RENDEZVOUS_HOST", "127.0.0.1")
    world = config.trial.workers
    print(f"{world} data-parallel processes (trial.workers)", flush=True)
    mp.spawn(_spawned, args=(world, free_address(), config, args), nprocs=world, join=True)


if __name__ == "__main__":
    main()
