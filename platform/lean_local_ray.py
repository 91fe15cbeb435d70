"""Start a local Ray without the two head processes a sweep's private Ray never uses.

``ray.init(address="local")`` starts, besides the GCS, the raylet and its agents, the
dashboard's API server (even with ``include_dashboard=False``: it then loads only Ray's
usage-stats module) and the autoscaler monitor. Neither serves a one-node Ray that one
driver starts for itself, runs and shuts down: there is no dashboard to show (it is off),
no node to add or remove, and the driver reads everything from Tune. Yet ``ray.init`` waits
for the API server to come up (0.8 s of its 2.6 s, measured on 2 cores) and the two Python
processes take 1.3 s of CPU while the raylet and its workers start beside them; the
monitor alone also costs a second at shutdown (it ignores SIGTERM).

Ray (2.60) offers no switch for either through ``ray.init``, so the two ``Node`` methods
that start them are replaced by no-ops for the duration of the ``ray.init`` call that
starts the driver's own Ray, and restored after it. Where Ray's internals differ (a
method missing), nothing is replaced and Ray starts as it always does. A cluster
(``--address``) is never touched: its head was started by ``ray start``."""
import contextlib
from typing import Iterator

SKIPPED = ("start_api_server", "start_monitor")


@contextlib.contextmanager
def without_unused_head_processes() -> Iterator[bool]:
    """Yields whether the two processes are skipped."""
    try:
        from ray._private.node import Node
    except ImportError:
        yield False
        return
    originals = {name: Node.__dict__.get(name) for name in SKIPPED}
    if not all(callable(method) for method in originals.values()):
        yield False
        return
    for name in SKIPPED:
        setattr(Node, name, _skip)
    try:
        yield True
    finally:
        for name, method in originals.items():
            setattr(Node, name, method)


def _skip(self, *args, **kwargs) -> None:
    return None
