"""The ``platform`` package must stay a full stand-in for the standard module."""
import importlib
import importlib.util
import json
import os
import pkgutil
import subprocess
import sys

import platform

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROBE = "import json, platform; print(json.dumps({'system': platform.system(), 'python_version': platform.python_version(), 'machine': platform.machine(), 'release': platform.release()}))"


def _run(code, cwd):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_heavy_imports_work_from_the_repo_root():
    code = ("import uuid, torch, ray, optuna, pandas, pyarrow, platform; "
            "assert hasattr(platform, '__path__'); uuid.uuid4(); print(platform.system())")
    assert _run(code, REPO).strip()


def test_standard_functions_equal_the_standard_module(tmp_path):
    ours = json.loads(_run(PROBE, REPO).strip().splitlines()[-1])
    standard = json.loads(_run(PROBE, str(tmp_path)).strip().splitlines()[-1])
    assert ours == standard


def test_shim_in_this_process_is_the_package():
    assert hasattr(platform, "__path__")
    assert platform.__stdlib_platform_file__.endswith("platform.py")
    importlib.import_module("platform.sweep")  # bare pytest must see the package's submodules


def test_no_submodule_shadows_a_standard_function():
    spec = importlib.util.spec_from_file_location("_standard_platform", platform.__stdlib_platform_file__)
    standard = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(standard)
    standard_names = {name for name in vars(standard) if not name.startswith("_")}
    assert {"system", "version", "release", "machine"} <= standard_names
    submodules = {m.name for m in pkgutil.iter_modules(platform.__path__)}
    assert submodules, "platform/ has no submodules?"
    assert not submodules & standard_names
