"""One direction of imports: platform -> search_spaces/trainables -> distill.
Ray workers import trainables, search_spaces and distill, never platform."""
import ast
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FORBIDDEN = {
    "distill": ("platform", "trainables", "search_spaces", "ray", "optuna"),
    "trainables": ("platform", "search_spaces", "optuna"),
    "search_spaces": ("platform", "trainables", "ray"),
}


def imported_modules(path):
    with open(path) as fh:
        tree = ast.parse(fh.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_downward(package):
    offenders = []
    for folder, _, files in os.walk(os.path.join(REPO, package)):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                for module in imported_modules(path):
                    if module.split(".")[0] in FORBIDDEN[package]:
                        offenders.append(f"{os.path.relpath(path, REPO)} imports {module}")
    assert not offenders, offenders
