"""Run the platform's CLIs as a user would: a subprocess from the repository root."""
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli(*args, timeout=600, **kwargs):
    env = dict(os.environ, RAY_DEDUP_LOGS="0", PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout, **kwargs)


def popen(*args, **kwargs):
    env = dict(os.environ, RAY_DEDUP_LOGS="0", PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", *args], cwd=REPO, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)


class Finished:
    """What ``subprocess.run`` would return: ``returncode``, ``stdout``, ``stderr``."""

    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def cli_in_process(*args):
    """``python -m MODULE ARGS`` in this process, for bad-input cases that end before any Ray
    work: the same ``main``, argv, stdout/stderr and exit code without paying a Python and
    torch start per case. The environment and argv are restored afterwards, and it is checked
    that Ray was not started (a subprocess per case is what ``cli`` is for)."""
    import contextlib
    import io
    import runpy
    import traceback
    import warnings

    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_argv, saved_cwd = dict(os.environ), list(sys.argv), os.getcwd()
    code = 0
    try:
        os.chdir(REPO)
        sys.argv = [args[0], *args[1:]]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                with warnings.catch_warnings():   # runpy's note that the module was imported before: it was, by us
                    warnings.filterwarnings("ignore", message=".*found in sys.modules after import of package",
                                            category=RuntimeWarning)
                    runpy.run_module(args[0], run_name="__main__", alter_sys=False)
            except SystemExit as done:
                code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
            except BaseException:   # what a crashing process would print
                traceback.print_exc()
                code = 1
    finally:
        os.chdir(saved_cwd)
        sys.argv = saved_argv
        os.environ.clear()
        os.environ.update(saved_env)
    if "ray" in sys.modules:
        import ray

        assert not ray.is_initialized(), "a bad-input case started Ray"
    return Finished(code, out.getvalue(), err.getvalue())
