"""Outside the repository root: ``python -m platform.*`` says in one line where to run it from
(not Python's "__path__ attribute not found on 'platform'"), and the installed ``distillery``
command works from any folder."""
import os
import shutil
import subprocess
import sys

import pytest

from sweep_runner import REPO


def run(args, cwd):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_python_m_platform_outside_the_root_is_one_line(tmp_path):
    result = run([sys.executable, "-m", "platform.sweep", "--list"], tmp_path)
    assert result.returncode == 2 and "__path__" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and REPO in lines[0] and "distillery sweep" in lines[0]
    # the standard library's platform module is untouched elsewhere
    assert run([sys.executable, "-c", "import platform; print(platform.system())"], tmp_path).stdout.strip()


@pytest.mark.skipif(shutil.which("distillery") is None, reason="the package is not installed (pip install -e .)")
def test_the_distillery_command_works_from_any_folder(tmp_path):
    result = run(["distillery", "sweep", "--list"], tmp_path)
    assert result.returncode == 0 and "tadml_disc" in result.stdout
    bad = run(["distillery", "nonesuch"], tmp_path)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert not os.listdir(tmp_path)
