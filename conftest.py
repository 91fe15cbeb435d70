"""Root conftest: bare ``pytest`` imports the standard ``platform`` module before
it puts the repository on sys.path, so re-bind ``platform`` to our package."""
import os
import sys

_ROOT = os.path.dirname(os.path.abspath(__file__))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
_current = sys.modules.get("platform")
if _current is not None and not hasattr(_current, "__path__"):
    del sys.modules["platform"]
    import platform  # noqa: F401  (re-imported from the repository)
