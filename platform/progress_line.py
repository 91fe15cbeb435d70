"""One status line for the terminal: trials finished / failed / running and the best so far,
with the elapsed time. It is printed when that changes (a trial finished or failed, or the
best value moved), and at least every ``HEARTBEAT_SECONDS`` while trials run, not for every
result: a sweep's output stays a screen long.

"Best" is what the summary and the exported best config rank by: the selection metric of a
finished trial at its final epoch (not the best epoch of a trial still running)."""
import math
import sys
import time

from ray import tune

HEARTBEAT_SECONDS = 30.0


class ProgressLine(tune.Callback):
    def __init__(self, metric: str, mode: str, total: int):
        self.metric, self.mode, self.total = metric, mode, total
        self.best = None
        self.start = time.time()
        self._finished, self._failed = set(), set()
        self._last_state = None
        self._last_print = time.time()

    def setup(self, **info):
        # a resumed experiment unpickles this callback (perhaps an older one): start afresh,
        # its finished trials are counted from their status
        self.start = time.time()
        self._finished, self._failed = set(), set()
        self._last_state = None
        self._last_print = time.time()

    def _better(self, value) -> bool:
        return self.best is None or (value > self.best if self.mode == "max" else value < self.best)

    def _counts(self, trials):
        """Finished (failed included) and failed trial ids. Tune calls on_trial_complete and
        on_trial_error before it sets the trial's status, so both callbacks record the
        trial themselves; a trial that ended with an error in its result (diverged) failed."""
        failed = self._failed | {t.trial_id for t in trials if t.status == "ERROR"}
        finished = self._finished | failed | {t.trial_id for t in trials if t.status == "TERMINATED"}
        failed |= {t.trial_id for t in trials if t.trial_id in finished and (t.last_result or {}).get("error")}
        return finished, failed

    def _print(self, trials, force: bool = False):
        finished, failed = self._counts(trials)
        best = "-" if self.best is None else f"{self.best:.2f}"
        state = (len(finished), len(failed), best)
        if state == self._last_state and not force:
            return
        self._last_state = state
        self._last_print = time.time()
        running = sum(t.status == "RUNNING" and t.trial_id not in finished for t in trials)
        line = (f"[{time.time() - self.start:6.0f}s] trials {len(finished)}/{self.total} finished "
                f"({len(failed)} failed), {running} running; best finished {self.metric} = {best}")
        stream = sys.stdout
        if stream.isatty():
            stream.write("\r" + line.ljust(100))
        else:
            stream.write(line + "\n")
        stream.flush()

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self._print(trials)

    def on_step_end(self, iteration, trials, **info):
        if time.time() - self._last_print >= HEARTBEAT_SECONDS:
            self._print(trials, force=True)

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._finished.add(trial.trial_id)
        last = trial.last_result or {}
        if last.get("error"):
            self._failed.add(trial.trial_id)
        else:
            value = last.get(self.metric)
            if isinstance(value, (int, float)) and math.isfinite(value) and self._better(value):
                self.best = value
        self._print(trials)

    def on_trial_error(self, iteration, trials, trial, **info):
        self._failed.add(trial.trial_id)
        self._print(trials)

    def on_experiment_end(self, trials, **info):
        self._print(trials)
        if sys.stdout.isatty():
            sys.stdout.write("\n")
            sys.stdout.flush()
