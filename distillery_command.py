"""``distillery COMMAND ARGS``: the platform's commands from any folder (``distillery sweep
tadml_disc --preset smoke`` is ``python -m platform.sweep tadml_disc --preset smoke`` run from the
repository root, with paths still relative to where you are). Installed as a console script."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
COMMANDS = ("sweep", "ablate", "report", "export", "evidence")


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        sys.stderr.write(f"distillery: give a command: {', '.join(COMMANDS)} (then its own --help)\n")
        return 2
    if not os.path.isfile(os.path.join(ROOT, "platform", "__init__.py")):
        sys.stderr.write(f"distillery: the platform's source is not beside {__file__}; install with pip install -e "
                         "from a clone of the repository\n")
        return 2
    # the repository first on the path, so its platform package is found from any folder
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    return subprocess.call([sys.executable, "-m", f"platform.{argv[0]}", *argv[1:]], env=env)


if __name__ == "__main__":
    sys.exit(main())
