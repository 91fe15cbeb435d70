"""Platform overhead per trial: a sweep of N trivial trials through ``python -m platform.sweep``
(local Ray, Tune, Optuna, checkpoints, trials.parquet) against a plain in-process Optuna loop
doing the same work (the same engine training, the same TPE space), both as fresh processes,
on one CPU so the work is the same.

    python benchmarks/trial_overhead.py [--trials 30]      seconds per trial and the overhead
    python benchmarks/trial_overhead.py --fit [--repeat 2]  30 and 100 trials of both: time = fixed
                                                            + n x marginal; prints the platform's
                                                            fixed and marginal extra (each side's
                                                            fastest of --repeat runs, after an
                                                            untimed 2-trial run of each)
    python benchmarks/trial_overhead.py --profile           where a platform trial's time goes
    python benchmarks/trial_overhead.py --trials 300 --trials 1000   the marginal extra, the driver's
                                                            peak memory, the journal's size and
                                                            Optuna's ask latency at each size
    python benchmarks/trial_overhead.py --fit --address auto   the same against a running Ray

The marginal extra at one size is read off the trial loop itself (first trial's start to last
trial's end, divided by the trials) in both processes, so start-up does not blur it."""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRIVIAL = ["train.epochs=1", "data.train_limit=64", "data.batch_size=64", "train.eval_test=false"]
MARK = "BENCHMARK_JSON "

PLAIN_LOOP = r'''
import json, resource, sys, tempfile, time
import optuna
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
marks = []

def objective(trial):
    marks.append(time.perf_counter())
    space(trial)
    resolved = resolve_trial_config({BASE_KEY: base, VARIANT_KEY: dict(trial.params)})
    history = Trainer(config_from_dict(resolved), output_dir=f"{out}/{trial.number}").fit()
    marks.append(time.perf_counter())
    return history[-1]["val_acc.net0"]

optuna.logging.set_verbosity(optuna.logging.WARNING)
study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
study.optimize(objective, n_trials=trials)
print("BENCHMARK_JSON " + json.dumps({"loop_seconds": marks[-1] - marks[0],
                                       "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''

# platform.sweep in this process, with timers around the driver's phases and Tune callbacks
PROFILED_SWEEP = r'''
import functools, json, resource, sys, time
script_start = time.perf_counter()
from collections import defaultdict

spent, calls, asks, marks = defaultdict(float), defaultdict(int), [], {}

def timed(owner, name, bucket, keep=None):
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            seconds = time.perf_counter() - start
            spent[bucket] += seconds
            calls[bucket] += 1
            if keep is not None:
                keep.append(seconds)
    setattr(owner, name, wrapper)

import platform.ray_session as session
import platform.sweep as sweep
import platform.sweep_summary as summary
import platform.teacher_store as store
import platform.tuner_factory as factory
from platform.progress_line import ProgressLine
from platform.schedule_records import ScheduleRecorder
from platform.study_searcher import StudySearcher
from platform.trial_records import TrialRecorder

timed(sweep, "prepare", "driver: preparation (sweep, validation, experiment folder)")
timed(session, "connect", "driver: Ray start")
timed(session, "disconnect", "driver: Ray shutdown")
timed(store, "ensure_teachers", "driver: teacher resolution")
timed(factory, "build_tuner", "driver: Tune setup")
timed(factory, "restore_tuner", "driver: Tune setup")
timed(summary, "rows_from_results", "driver: results collected after Tune")
for name in ("on_trial_start", "on_trial_complete", "on_trial_error"):
    timed(TrialRecorder, name, "per trial: trials.parquet and resolved_config.yaml writes")
timed(ScheduleRecorder, "on_trial_result", "per trial: schedule records")
for name in ("on_trial_result", "on_step_end", "on_trial_complete", "on_trial_error"):
    timed(ProgressLine, name, "per trial: progress line")
timed(StudySearcher, "suggest", "per trial: Optuna ask (sampler, journal)", keep=asks)
for name in ("on_trial_complete", "on_trial_result"):
    timed(StudySearcher, name, "per trial: Optuna tell (journal)")

first_start = TrialRecorder.on_trial_start
def on_trial_start(self, *args, **kwargs):
    marks.setdefault("first_trial_start", time.perf_counter())
    return first_start(self, *args, **kwargs)
TrialRecorder.on_trial_start = on_trial_start
last_end = TrialRecorder.on_trial_complete
def on_trial_complete(self, *args, **kwargs):
    marks["last_trial_end"] = time.perf_counter()
    return last_end(self, *args, **kwargs)
TrialRecorder.on_trial_complete = on_trial_complete

from ray import tune
timed(tune.Tuner, "fit", "driver: Tune loop (all trials)")
fit = tune.Tuner.fit
def fit_marked(self, *args, **kwargs):
    marks["fit_entered_at"] = time.time()
    try:
        return fit(self, *args, **kwargs)
    finally:
        marks["fit_returned_at"] = time.time()
tune.Tuner.fit = fit_marked
imports = time.perf_counter() - script_start

def profiled():
    """``python -m platform.sweep``'s main, timed, ending its process the way that command does."""
    started = time.perf_counter()
    try:
        sweep.main(sys.argv[1:])
    except SystemExit as done:
        if done.code not in (0, None):
            raise
    report(time.perf_counter() - started)

def report(total):
    print("BENCHMARK_JSON " + json.dumps({
        "total": total, "imports": imports, "spent": spent, "calls": calls, "asks": asks,
        "loop_seconds": marks.get("last_trial_end", 0.0) - marks.get("first_trial_start", 0.0),
        "fit_entered_at": marks.get("fit_entered_at"), "fit_returned_at": marks.get("fit_returned_at"),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))

from platform.command_exit import run_then_exit
run_then_exit(profiled)
'''


def run_json(cmd):
    """Run ``cmd`` from the repository root; its wall time and the JSON it printed last."""
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd[:4])} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    lines = [line for line in done.stdout.splitlines() if line.startswith(MARK)]
    return seconds, (json.loads(lines[-1][len(MARK):]) if lines else {})


def plain(trials: int):
    return run_json([sys.executable, "-c", PLAIN_LOOP, str(trials), *TRIVIAL])


ADDRESS = []   # --address ADDR: join a running Ray (ray start --head --num-cpus 1) instead of starting one


def platform_sweep(trials: int, storage: str):
    sets = [item for kv in TRIVIAL for item in ("--set", kv)]
    return run_json([sys.executable, "-c", PROFILED_SWEEP, "dml_smoke", "--trials", str(trials), "--num-cpus", "1",
                     "--storage", storage, *ADDRESS, *sets])


def experiment_dir(storage: str) -> str:
    (name,) = [d for d in os.listdir(storage) if d.startswith("dml_smoke")]
    return os.path.join(storage, name)


def worker_phases(folder: str):
    """Per trial, the trial process's seconds per phase (trials.parquet's ``time.*``)."""
    import pyarrow.parquet as pq

    rows = pq.read_table(os.path.join(folder, "trials.parquet")).to_pylist()
    keys = sorted({k for r in rows for k in r if k.startswith("time.")})
    return {k: sum(r.get(k) or 0.0 for r in rows) / len(rows) for k in keys}, rows


def journal_bytes(folder: str) -> int:
    return sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder) if f.startswith("optuna"))


def sized_run(trials: int, repeat: int = 1):
    """Both sides ``repeat`` times, alternating; each side's fastest run is kept (a busy spell
    of a shared machine only ever adds time, and it falls on either side alike)."""
    plain_runs, platform_runs = [], []
    for _ in range(repeat):
        plain_runs.append(plain(trials))
        storage = tempfile.mkdtemp()
        platform_runs.append((*platform_sweep(trials, storage), storage))
    plain_s, plain_info = min(plain_runs, key=lambda run: run[0])
    platform_s, info, storage = min(platform_runs, key=lambda run: run[0])
    folder = experiment_dir(storage)
    asks = info["asks"]
    tail = asks[-max(1, len(asks) // 10):]
    return {"trials": trials, "plain": plain_s, "platform": platform_s, "plain_loop": plain_info["loop_seconds"],
            "platform_loop": info["loop_seconds"], "peak_rss_mb": info["peak_rss_mb"],
            "journal_kb": journal_bytes(folder) / 1024, "ask_ms_last": 1000 * sum(tail) / len(tail),
            "ask_ms_first": 1000 * sum(asks[:len(tail)]) / len(tail), "info": info, "folder": folder}


def print_size(r) -> None:
    n = r["trials"]
    marginal = (r["platform_loop"] - r["plain_loop"]) / n
    print(f"{n} trials: plain {r['plain']:.1f} s ({r['plain'] / n:.3f} s/trial), platform {r['platform']:.1f} s "
          f"({r['platform'] / n:.3f} s/trial), overhead {(r['platform'] - r['plain']) / n:.3f} s/trial")
    print(f"  marginal extra at {n} trials: {marginal:.3f} s/trial (trial loops: plain {r['plain_loop']:.1f} s, "
          f"platform {r['platform_loop']:.1f} s)")
    print(f"  driver peak memory {r['peak_rss_mb']:.0f} MB, Optuna journal {r['journal_kb']:.0f} KB, ask latency "
          f"{r['ask_ms_first']:.1f} ms (first tenth) -> {r['ask_ms_last']:.1f} ms (last tenth)")


def print_profile(r) -> None:
    n, info = r["trials"], r["info"]
    phases, _ = worker_phases(r["folder"])
    print(f"where {n} trivial trials' time goes (platform.sweep, {r['platform']:.1f} s in all; "
          f"plain loop {r['plain'] / n:.3f} s/trial):")
    once = {k: v for k, v in info["spent"].items() if k.startswith("driver:")}
    per = {k: v for k, v in info["spent"].items() if k.startswith("per trial:")}
    outside = r["platform"] - info["total"] - info["imports"]
    print(f"  {'interpreter start and exit':62s} {outside:8.2f} s")
    print(f"  {'driver: imports (Ray, Tune, Optuna, the platform)':62s} {info['imports']:8.2f} s")
    for key, seconds in once.items():
        if key != "driver: Tune loop (all trials)":
            print(f"  {key:62s} {seconds:8.2f} s")
    rest = info["total"] - sum(once.values())
    print(f"  {'driver: the rest (argument parsing, summary, best config)':62s} {rest:8.2f} s")
    loop = info["spent"].get("driver: Tune loop (all trials)", 0.0)
    print(f"  {'driver: Tune loop (all trials)':62s} {loop:8.2f} s = {loop / n:.3f} s/trial, of which per trial:")
    in_worker = sum(phases.values())
    for key, seconds in per.items():
        print(f"    {key[len('per trial: '):]:60s} {seconds / n:8.4f} s")
    for key, seconds in phases.items():
        print(f"    {'trial process: ' + key[len('time.'):-2]:60s} {seconds:8.4f} s")
    rest = loop / n - in_worker - sum(per.values()) / n
    print(f"    {'Ray scheduling, worker start, Tune bookkeeping (the rest)':60s} {rest:8.4f} s")
    _, rows = worker_phases(r["folder"])
    timed_rows = sorted((row["started_at"], row["finished_at"]) for row in rows
                        if row.get("started_at") and row.get("finished_at"))
    if timed_rows and info.get("fit_entered_at"):
        print(f"  {'of the Tune loop: its start to the first trial process running':62s} "
              f"{timed_rows[0][0] - info['fit_entered_at']:8.2f} s (worker start, imports, Tune's set-up)")
        print(f"  {'of the Tune loop: the last report to its return':62s} "
              f"{info['fit_returned_at'] - timed_rows[-1][1]:8.2f} s")
    gaps = [later[0] - earlier[1] for earlier, later in zip(timed_rows, timed_rows[1:])]
    if gaps:   # one CPU: trials run one after another
        gaps.sort()
        label = "of it, from the last report of a trial to the start of the next"
        print(f"    {label:60s} {sum(gaps) / len(gaps):8.4f} s "
              f"(median {gaps[len(gaps) // 2]:.4f}, max {gaps[-1]:.4f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, action="append", help="sweep size (repeatable); default 30")
    parser.add_argument("--fit", action="store_true", help="two sizes (30 and 100): fixed and marginal extra")
    parser.add_argument("--profile", action="store_true", help="where a trial's time goes")
    parser.add_argument("--repeat", type=int, default=2, help="with --fit: runs of each side and size, the fastest "
                                                               "kept (default 2)")
    parser.add_argument("--address", help="run the sweeps on this running Ray (e.g. after ray start --head "
                                          "--num-cpus 1): Ray's own start and stop are then not the sweep's")
    args = parser.parse_args()
    if args.address:
        ADDRESS.extend(["--address", args.address])
    if args.fit:
        small, large = (sorted(args.trials) + [100])[:2] if args.trials else (30, 100)
        # untimed: one short run of each side first, so that neither pays for files the machine
        # has dropped from its page cache (torch's and Ray's libraries) while it stood idle
        plain(2)
        platform_sweep(2, tempfile.mkdtemp())
        a, b = sized_run(small, args.repeat), sized_run(large, args.repeat)
        for r in (a, b):
            print_size(r)
        fixed = lambda k: (large * a[k] - small * b[k]) / (large - small)   # noqa: E731
        marginal = lambda k: (b[k] - a[k]) / (large - small)   # noqa: E731
        print(f"plain loop: fixed {fixed('plain'):.1f} s, marginal {marginal('plain'):.3f} s/trial; "
              f"platform: fixed {fixed('platform'):.1f} s, marginal {marginal('platform'):.3f} s/trial")
        print(f"fixed extra: {fixed('platform') - fixed('plain'):.1f} s (target <= 6 s)")
        print(f"marginal extra: {marginal('platform') - marginal('plain'):.3f} s/trial (target <= 0.08 s)")
        if args.profile:
            print_profile(b)
        return
    for trials in args.trials or [30]:
        r = sized_run(trials)
        print_size(r)
        if args.profile:
            print_profile(r)


if __name__ == "__main__":
    main()
