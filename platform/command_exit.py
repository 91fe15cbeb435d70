"""How a command that ran Ray ends its process.

By the time a sweep's ``main`` returns, Ray is shut down and every file the run wrote is
closed (they are written whole, through ``atomic_write``). What is left of a normal exit
is the interpreter tearing down the modules it imported: torch, Ray and Tune together take
about a second of a 2-core machine to unwind, per command, after the results are out.
Skipping that teardown changes nothing on disk or on screen: the standard streams and the
logging handlers are flushed first. An exception that escapes ``main`` is not a result: it
takes the normal path, traceback included, and so does a command that never reached Ray
(bad input, ``--list``): it has little to unwind, and it may be running inside another
Python program (the tests run bad-input cases in their own process)."""
import logging
import os
import sys
from typing import Callable


def exit_code(done: SystemExit) -> int:
    """The status ``sys.exit(value)`` ends a process with; a message is printed as Python would."""
    if done.code is None:
        return 0
    if isinstance(done.code, int):
        return done.code
    print(done.code, file=sys.stderr)
    return 1


def run_then_exit(main: Callable[[], None]) -> None:
    from platform.ray_session import connected_once

    try:
        main()
        code = 0
    except SystemExit as done:
        if not connected_once():
            raise
        code = exit_code(done)
    if not connected_once():
        return
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)
