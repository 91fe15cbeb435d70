"""``python -m distill.train --config FILE [--set key=value ...] [--resume]``:
train one run from a YAML config; prints one line per epoch and writes
config.yaml, metrics.jsonl and checkpoint/ into the output folder."""
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
        from distill.trainer import Trainer  # torch-heavy: after the config is known to be valid

        trainer = Trainer(config, args.output)
        checkpoint = os.path.join(trainer.output_dir, "checkpoint", CHECKPOINT_FILE)
        if args.resume and os.path.exists(checkpoint):
            trainer.resume(checkpoint)
            print(f"resumed from epoch {trainer.epoch}")
        kind = trainer.task.primary
        trainer.fit(lambda metrics, _: print(format_epoch(metrics, config.train.epochs, kind), flush=True))
        print(f"wrote {trainer.output_dir}")


if __name__ == "__main__":
    main()
