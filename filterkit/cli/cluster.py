"""``--scheduler ADDRESS``: the tiles of ``--tile`` filtered on a running
Dask cluster.

The command stays in charge of its files: it opens the input to check it,
hands out one task per tile (each worker opens the input by its path,
reads the tile with its halo, filters it) and writes what comes back in
order, under a temporary name renamed into place at the end, as without a
cluster.  At most a few tiles per worker are on their way at a time, so the
command's memory stays bounded; the progress bar counts the tiles as the
cluster finishes them.  Workers must see the input at the same path (the
same machine, or a shared file system).  A worker that dies is replaced by
Dask, which runs its tiles again: the output is complete or not written.

Without ``--scheduler`` (and ``FILTERKIT_SCHEDULER``), or with
``--scheduler none``, everything runs in the command's own process.
"""

from __future__ import annotations

import argparse
import collections
import os
import uuid
from typing import Any, Callable, Iterable, Iterator, Optional, Tuple

from .images import CLIError

#: the environment variable that names a scheduler for every --tile command
SCHEDULER_ENV = "FILTERKIT_SCHEDULER"
#: tiles on their way per worker thread: enough to keep every worker busy
#: while the command writes, few enough to bound the command's memory
IN_FLIGHT_PER_THREAD = 2
#: how long to wait for the scheduler to answer, in seconds
CONNECT_TIMEOUT = 15


def scheduler_address(args: argparse.Namespace) -> Optional[str]:
    """--scheduler, else FILTERKIT_SCHEDULER, else None (run locally);
    ``none`` (either place) runs locally too."""
    given = getattr(args, "scheduler", None)
    origin = "argument --scheduler"
    if given is None:
        given, origin = os.environ.get(SCHEDULER_ENV, "").strip() or None, SCHEDULER_ENV
    if given is None or given.lower() == "none":
        return None
    if any(c.isspace() for c in given) or "://" in given and not given.split("://", 1)[1]:
        raise CLIError(f"{origin}: expected a scheduler address such as tcp://host:8786 or "
                       f"'none'; got {given!r}")
    return given


def _cluster_failure(exc: BaseException, item: Any) -> None:
    """A failure of the cluster itself (not of the task's own code, whose
    errors pass as they are) as one line."""
    kind = type(exc).__name__
    if kind == "KilledWorker":
        raise CLIError(f"tile {item}: the workers that ran it died, again and again "
                       "(out of memory? see the workers' logs)") from None
    if type(exc).__module__.split(".")[0] == "distributed" or kind in ("CancelledError",
                                                                      "CommClosedError"):
        raise CLIError(f"the cluster failed ({kind}: {exc})") from None


class Cluster:
    """A connection to the scheduler at `address`, for one command."""

    def __init__(self, address: str) -> None:
        try:
            import distributed
        except ImportError:
            raise CLIError("--scheduler needs dask.distributed: pip install 'filterkit[dask]'") \
                from None
        try:
            self.client = distributed.Client(address, timeout=CONNECT_TIMEOUT,
                                             set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise CLIError(f"--scheduler {address}: cannot connect ({exc})") from None
        threads = sum(self.client.nthreads().values())
        if threads == 0:
            self.close()
            raise CLIError(f"--scheduler {address}: the cluster has no workers")
        self.in_flight = max(2, IN_FLIGHT_PER_THREAD * threads)

    def ordered(self, fn: Callable[..., Any], items: Iterable[Any], *args: Any,
                name: str = "filterkit-tile", progress: Any = None) -> Iterator[Tuple[Any, Any]]:
        """Yield (item, fn(item, *args)) in the order of `items`, computed
        on the cluster, at most :attr:`in_flight` at a time; the tasks are
        named ``{name}-{run}-{i}`` on the cluster's dashboard and logs."""
        pending: "collections.deque[Tuple[Any, Any]]" = collections.deque()
        numbered = enumerate(items)
        run = uuid.uuid4().hex[:12]

        def submit() -> None:
            """The next item's task, if any is left."""
            nxt = next(numbered, None)
            if nxt is not None:
                i, item = nxt
                pending.append((item, self.client.submit(fn, item, *args, key=f"{name}-{run}-{i}",
                                                         pure=False)))

        try:
            for _ in range(self.in_flight):
                submit()
            while pending:
                item, future = pending.popleft()
                try:
                    result = future.result()
                except Exception as exc:
                    _cluster_failure(exc, item)
                    raise
                submit()
                if progress is not None:
                    progress.update(1)
                yield item, result
        finally:
            for _, future in pending:  # Ctrl-C or a failure: nothing left running for us
                future.cancel()

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
