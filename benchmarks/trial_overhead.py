"""Platform overhead per trial: a sweep of N trivial trials through
``python -m platform.sweep`` (local Ray, Tune, Optuna, checkpoints,
trials.parquet) against a plain in-process Optuna loop doing the same work
(the same engine training, the same TPE space), both as fresh processes, on
one CPU so the work is the same. Prints seconds per trial and the overhead.

    python benchmarks/trial_overhead.py [--trials 30]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRIVIAL = ["train.epochs=1", "data.train_limit=64", "data.batch_size=64", "train.eval_test=false"]

PLAIN_LOOP = r'''
import sys, tempfile, optuna
from distill.config import apply_overrides, config_from_dict
from distill.trainer import Trainer
from search_spaces import load_sweep
from search_spaces.define_by_run import SpaceFunction
from trainables.trial_config import BASE_KEY, VARIANT_KEY, resolve_trial_config

trials, overrides = int(sys.argv[1]), sys.argv[2:]
spec = load_sweep("dml_smoke")
preset = spec.preset("smoke")
base = apply_overrides(spec.base, list(preset.set.items()) + overrides + ["train.threads=1"])
space = SpaceFunction(spec.space_for("smoke"))
out = tempfile.mkdtemp()

def objective(trial):
    space(trial)
    resolved = resolve_trial_config({BASE_KEY: base, VARIANT_KEY: dict(trial.params)})
    history = Trainer(config_from_dict(resolved), output_dir=f"{out}/{trial.number}").fit()
    return history[-1]["val_acc.net0"]

optuna.logging.set_verbosity(optuna.logging.WARNING)
study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
study.optimize(objective, n_trials=trials)
'''


def timed(cmd) -> float:
    start = time.perf_counter()
    run = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if run.returncode != 0:
        sys.exit(f"{' '.join(cmd[:4])} failed:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=30)
    args = parser.parse_args()
    storage = tempfile.mkdtemp()
    sets = [item for kv in TRIVIAL for item in ("--set", kv)]
    plain = timed([sys.executable, "-c", PLAIN_LOOP, str(args.trials), *TRIVIAL])
    platform = timed([sys.executable, "-m", "platform.sweep", "dml_smoke", "--trials", str(args.trials),
                      "--num-cpus", "1", "--storage", storage, *sets])
    print(f"plain Optuna loop: {plain:.1f} s for {args.trials} trials ({plain / args.trials:.3f} s/trial)")
    print(f"platform.sweep   : {platform:.1f} s for {args.trials} trials ({platform / args.trials:.3f} s/trial)")
    print(f"platform overhead per trial: {(platform - plain) / args.trials:.3f} s (goal <= 0.4 s)")


if __name__ == "__main__":
    main()
