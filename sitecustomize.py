"""Imported by Python at startup (the package installs it as a module): when ``python -m
platform.<command>`` runs outside the repository root, the standard library's ``platform`` is
found instead of ours and Python fails with "__path__ attribute not found on 'platform'". Say
instead, in one line, where to run it from (or to use the ``distillery`` command). Anything else
is left alone, and a sitecustomize of the user's own wins over this one."""
import os
import sys


def _outside_root_line() -> None:
    argv = getattr(sys, "orig_argv", [])
    if "-m" not in argv[:-1]:
        return
    module = argv[argv.index("-m") + 1]
    if not module.startswith("platform.") or os.path.isfile(os.path.join(os.getcwd(), "platform", "__init__.py")):
        return
    root = os.path.dirname(os.path.abspath(__file__))
    if root in sys.path:   # the distillery command (or PYTHONPATH) puts the repository on the path
        return
    command = module.split(".", 1)[1]
    sys.stderr.write(f"python -m {module}: run it from the Distillery repository root (cd {root}), "
                     f"or use the installed command: distillery {command} ...\n")
    sys.stderr.flush()
    os._exit(2)   # SystemExit here would be reported as a failure to import the site module


_outside_root_line()
