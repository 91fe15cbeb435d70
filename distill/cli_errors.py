"""Bad input ends a command with one line on stderr and exit code 2, no traceback."""
import sys
from contextlib import contextmanager

from distill.errors import ConfigError

USAGE_ERROR = 2


@contextmanager
def exit_on_config_error(prog: str):
    try:
        yield
    except ConfigError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        sys.exit(USAGE_ERROR)
