"""Adding a method needs no second edit: every module of distill/methods registers itself when
the package is imported. Switching a sweep to a method that lacks its searched fields is one line
naming them and the sweeps that run that method, before any Ray work."""
import os
import re

from distill.methods import METHODS
from sweep_runner import REPO, cli_in_process

FOLDER = os.path.join(REPO, "distill", "methods")


def test_every_registered_name_in_the_package_is_discovered():
    declared = set()
    for name in os.listdir(FOLDER):
        if name.endswith(".py"):
            with open(os.path.join(FOLDER, name)) as fh:
                declared |= set(re.findall(r'^@METHODS\.register\("([^"]+)"\)', fh.read(), re.M))
    assert declared and declared <= set(METHODS.names())
    with open(os.path.join(FOLDER, "__init__.py")) as fh:
        init = fh.read()
    assert "pkgutil.iter_modules" in init and "from distill.methods import kd" not in init


def test_switching_a_sweep_to_a_method_without_its_searched_fields_is_one_line(tmp_path):
    result = cli_in_process("platform.sweep", "kd_temperature", "--preset", "smoke", "--set", "method.name=at",
                            "--storage", str(tmp_path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--set method.name" in lines[0] and "method.alpha" in lines[0]
    assert "sweeps that run at: compression" in lines[0] and not any(tmp_path.iterdir())
