"""Driver-side commands of Distillery (sweep, export, ...).

This package is named ``platform`` because users type ``python -m platform.sweep``.
That name shadows the standard library's ``platform`` module, which ``uuid``,
torch, ray, pandas and optuna import. So the package first executes the
standard module's code into its own namespace and is a full stand-in for it;
its submodules stay importable because ``__path__`` is the package's.

Nothing a Ray worker imports may live here, and no submodule may be named like
a function of the standard module (``version``, ``system``, ...): importing it
would overwrite that function.
"""
import importlib.machinery as _machinery
import sys as _sys


def _exec_standard_platform(namespace):
    # Walk sys.path entry by entry and skip every *package* named platform:
    # a Ray worker can see this repository twice (working_dir and PYTHONPATH).
    for entry in list(_sys.path):
        try:
            spec = _machinery.PathFinder.find_spec("platform", [entry])
        except (ImportError, ValueError):
            continue
        if spec is None or spec.loader is None or spec.submodule_search_locations:
            continue
        exec(spec.loader.get_code("platform"), namespace)
        namespace["__stdlib_platform_file__"] = spec.origin
        return
    raise ImportError("the standard library's 'platform' module was not found on sys.path")


_exec_standard_platform(globals())
del _exec_standard_platform
