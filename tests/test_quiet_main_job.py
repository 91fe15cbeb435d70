"""The README's main command prints our progress and results, not Ray's or Optuna's
notices, and all of it fits on one screen."""
import glob
import os

import pytest

from sweep_runner import cli

pytestmark = pytest.mark.slow

NOISE = [
    "authentication_token_setup",     # Ray: token authentication is enabled ...
    "working_dir.py",                 # Ray: Directory '.git' is now ignored by default ...
    "ExperimentalWarning",            # Optuna: ``group`` is experimental
    "Configuration for experiment",   # Tune's box
    "View detailed results here",     # Tune (we print "tune: DIR")
    "/tmp/ray/session",               # Tune's TensorBoard line into Ray's session folder
    "SystemExit",                     # an actor's exit at shutdown
    "Traceback",
]


def test_main_job_prints_only_our_lines(tmp_path):
    storage = str(tmp_path / "exp")
    run = cli("platform.sweep", "tadml_disc", "--preset", "smoke", "--storage", storage,
              "--set", "data.train_limit=300")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    for noise in NOISE:
        assert noise not in output, f"{noise!r} in the output:\n{output}"

    [experiment] = [os.path.dirname(p) for p in glob.glob(os.path.join(storage, "*", "experiment.yaml"))]
    tune_dir = os.path.join(experiment, "tune")
    assert f"tune: {tune_dir}" in run.stdout.splitlines()
    tensorboard = [line for line in run.stdout.splitlines() if "TensorBoard" in line]
    assert tensorboard == [f"TensorBoard: tensorboard --logdir {tune_dir}"], output
    assert glob.glob(os.path.join(tune_dir, "trial_*", "events.out.tfevents*"))   # where the line points

    lines = output.splitlines()
    assert len(lines) <= 60, output
    # the progress line is printed when something changed, never twice for the same state
    progress = [line.split("]", 1)[1] for line in lines if line.startswith("[") and "] trials " in line]
    assert progress and len(progress) == len(set(progress)), output
    assert progress[-1].startswith(" trials 8/8 finished (0 failed), 0 running"), output
