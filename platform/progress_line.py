"""One live status line for the terminal: trials done / running / failed and the best so far."""
import sys
import time

from ray import tune


class ProgressLine(tune.Callback):
    def __init__(self, metric: str, mode: str, total: int):
        self.metric, self.mode, self.total = metric, mode, total
        self.best = None
        self.start = time.time()
        self._last_print = 0.0

    def _better(self, value) -> bool:
        return self.best is None or (value > self.best if self.mode == "max" else value < self.best)

    def _print(self, trials, force=False):
        now = time.time()
        if not force and now - self._last_print < 1.0:
            return
        self._last_print = now
        done = sum(t.status == "TERMINATED" for t in trials)
        failed = sum(t.status == "ERROR" for t in trials)
        running = sum(t.status == "RUNNING" for t in trials)
        best = "-" if self.best is None else f"{self.best:.2f}"
        line = (f"[{now - self.start:6.0f}s] trials {done + failed}/{self.total} finished "
                f"({failed} failed), {running} running; best {self.metric} = {best}")
        stream = sys.stdout
        if stream.isatty():
            stream.write("\r" + line.ljust(100))
        else:
            stream.write(line + "\n")
        stream.flush()

    def on_trial_result(self, iteration, trials, trial, result, **info):
        value = result.get(self.metric)
        if isinstance(value, (int, float)) and self._better(value):
            self.best = value
        self._print(trials)

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._print(trials, force=True)

    def on_trial_error(self, iteration, trials, trial, **info):
        self._print(trials, force=True)

    def on_experiment_end(self, trials, **info):
        self._print(trials, force=True)
        if sys.stdout.isatty():
            sys.stdout.write("\n")
