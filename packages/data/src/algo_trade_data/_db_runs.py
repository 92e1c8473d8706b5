"""Run bookkeeping: heartbeats of running sweeps, and marking the runs nobody will ever finish.

A sweep killed mid-run (SIGKILL, a crash, a machine that went down), or whose database died before its
finish was written, leaves its ``backtest_runs`` row at ``running``. The next start marks such rows
``interrupted`` with the reason in ``errors["*"]``, but only rows no live process still works on:

* the owner (``owner_host``, ``owner_pid``) is this machine and that process is gone, or it is this
  very process and the run is not one of its live sweeps;
* or the owner's heartbeat (written every ``RUN_HEARTBEAT_S`` while the sweep runs) is older than
  ``stale_after_s``: the process is gone, or hangs, wherever it ran;
* or the row has no owner (recorded before migration 005) and started longer than ``stale_after_s`` ago.

So two sweeps running at once (two terminals, a daemon and a manual ``sweep``) never mark each other.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from algo_trade_data._db_base import _DatabaseBase, require_aware
from algo_trade_data._db_results import _SELECT_RUNS, _run
from algo_trade_data._records import BacktestRunRecord

__all__ = [
    "RUN_HEARTBEAT_S",
    "STALE_AFTER_S",
    "RunsMixin",
    "interruption_reason",
    "pid_alive",
    "this_host",
]

RUN_HEARTBEAT_S = 30.0
STALE_AFTER_S = 300.0  # ten missed heartbeats

_RUNNING = (
    "SELECT run_id, started_at, owner_host, owner_pid, heartbeat_at FROM backtest_runs "
    "WHERE status = 'running' ORDER BY started_at"
)
_MARK = """
UPDATE backtest_runs
SET status = 'interrupted',
    finished_at = greatest(started_at, coalesce(heartbeat_at, started_at)),
    errors = errors || jsonb_build_object('*', $2::text)
WHERE run_id = $1 AND status = 'running'
RETURNING run_id
"""


_SELECT_MARKED = f"{_SELECT_RUNS} WHERE run_id = ANY($1::text[]) ORDER BY started_at"


def this_host() -> str:
    """The name runs are recorded under (``owner_host``)."""
    return socket.gethostname()


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, it is someone else's
        return True
    except OSError:
        return False
    return True


def _ago(now: datetime, then: datetime) -> str:
    seconds = max(0.0, (now - then).total_seconds())
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def interruption_reason(
    row: Any,
    *,
    host: str,
    pid: int,
    live: Collection[str],
    now: datetime,
    stale_after_s: float = STALE_AFTER_S,
    alive: Callable[[int], bool] = pid_alive,
) -> str | None:
    """Return why a ``running`` row will never be finished, or None when its owner may still finish it.

    ``row`` has ``run_id``, ``started_at``, ``owner_host``, ``owner_pid`` and ``heartbeat_at``;
    ``live`` holds the ids of the sweeps this process (``host``/``pid``) is running now.
    """
    owner_host, owner_pid, heartbeat = row["owner_host"], row["owner_pid"], row["heartbeat_at"]
    last = heartbeat or row["started_at"]
    seen = f"last sign of life {_ago(now, last)} ago"
    if owner_host is None or owner_pid is None:
        if now - row["started_at"] > timedelta(seconds=stale_after_s):
            return f"no finish recorded; no owner recorded and started {_ago(now, row['started_at'])} ago"
        return None
    if owner_host == host and owner_pid == pid:
        if row["run_id"] in live:
            return None
        return f"no finish recorded; this process ({host}:{pid}) no longer runs it ({seen})"
    if owner_host == host and not alive(owner_pid):
        return f"no finish recorded; process gone ({host}:{owner_pid}, {seen})"
    if now - last > timedelta(seconds=stale_after_s):
        return f"no finish recorded; no heartbeat from {owner_host}:{owner_pid} for {_ago(now, last)}"
    return None


class RunsMixin(_DatabaseBase):
    """Run-liveness methods of :class:`~algo_trade_data.DatabaseClient`."""

    async def heartbeat_run(self, run_id: str, at: datetime | None = None) -> None:
        """Record that the owner of a running sweep is alive."""
        when = require_aware(at, "at") if at is not None else datetime.now(UTC)
        async with self._connection("heartbeat_run") as conn:
            await conn.execute(
                "UPDATE backtest_runs SET heartbeat_at = $2 WHERE run_id = $1 AND status = 'running'",
                run_id,
                when,
            )

    async def mark_interrupted_runs(
        self,
        *,
        live: Collection[str] = (),
        host: str | None = None,
        pid: int | None = None,
        now: datetime | None = None,
        stale_after_s: float = STALE_AFTER_S,
    ) -> list[BacktestRunRecord]:
        """Mark the ``running`` rows nobody will finish as ``interrupted``; return them, updated.

        Args:
            live: ids of the sweeps this process is running (never marked).
            host, pid: this process (default: the real ones).
            now: the current time (default: the wall clock).
            stale_after_s: a heartbeat older than this means the owner is gone.
        """
        host = host if host is not None else this_host()
        pid = pid if pid is not None else os.getpid()
        now = require_aware(now, "now") if now is not None else datetime.now(UTC)
        marked: list[str] = []
        async with self._transaction("mark_interrupted_runs") as conn:
            for row in await conn.fetch(_RUNNING):
                reason = interruption_reason(
                    row, host=host, pid=pid, live=live, now=now, stale_after_s=stale_after_s
                )
                if reason is not None and await conn.fetchval(_MARK, row["run_id"], reason):
                    marked.append(row["run_id"])
            rows = await conn.fetch(
                f"{_SELECT_RUNS} WHERE run_id = ANY($1::text[]) ORDER BY started_at", marked
            )
        return [_run(r) for r in rows]
