"""Where the tasks run: a thread pool in this process, or Dask (a LocalCluster or an existing cluster).

Both stream results back in completion order (``async for task, metrics in executor.run(...)``), so the
caller stores each as it arrives. Dask gets each token's bars once on every worker (``scatter`` with
``broadcast``), warms the numba kernels in every worker before the first task, and reruns the tasks of
a worker that dies elsewhere (its scheduler's own bookkeeping: a task's result arrives once).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from algo_trade_core import AlgoTradeError, BacktestConfig, ComputeConfig
from algo_trade_optimisation._plan import Bars, Task, run_task, warm_kernels

__all__ = ["RESUBMITS", "ComputeError", "DaskExecutor", "Executor", "ThreadExecutor"]

RESUBMITS = 3  # times one task is resubmitted after the scheduler cancelled it (a worker died)

Result = tuple[Task, npt.NDArray[np.float64]]


class ComputeError(AlgoTradeError):
    """The compute back-end cannot run the tasks (an unreachable Dask scheduler, a lost cluster)."""


class Executor(Protocol):
    name: str
    dashboard: str | None

    def run(
        self, bars: Mapping[str, Bars], tasks: Sequence[Task], execution: BacktestConfig, interval: str
    ) -> AsyncIterator[Result]: ...


def _any(value: Any) -> Any:
    """distributed ships no annotations for these callables: call them as Any."""
    return value


def _args(task: Task) -> tuple[list[str], list[dict[str, Any]]]:
    return [s.strategy for s in task.sets], [s.params for s in task.sets]


@dataclass
class ThreadExecutor:
    """Tasks on threads of this process (the numba kernels release the GIL)."""

    threads: int = 0
    name: str = "threads"
    dashboard: str | None = None

    async def __aenter__(self) -> ThreadExecutor:
        self.name = f"in-process threads ({self.threads or os.cpu_count() or 1})"
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def run(
        self, bars: Mapping[str, Bars], tasks: Sequence[Task], execution: BacktestConfig, interval: str
    ) -> AsyncIterator[Result]:
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(max_workers=self.threads or os.cpu_count() or 1) as pool:
            pending = {
                loop.run_in_executor(pool, run_task, bars[t.symbol], *_args(t), execution, interval): t
                for t in tasks
            }
            try:
                while pending:
                    done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                    for future in done:
                        yield pending.pop(future), future.result()
            finally:
                for future in pending:
                    future.cancel()


class DaskExecutor:
    """Tasks on a Dask cluster: a LocalCluster of ``workers`` processes, or the scheduler at ``address``.

    Raises (on entry):
        ComputeError: the scheduler cannot be reached within ``[compute] connect_timeout_s``.
    """

    def __init__(self, compute: ComputeConfig, address: str | None = None) -> None:
        self._compute = compute
        self._address = address if address is not None else compute.scheduler
        self._cluster: Any = None
        self._client: Any = None
        self.name = "dask"
        self.dashboard: str | None = None

    @property
    def client(self) -> Any:
        return self._client

    async def __aenter__(self) -> DaskExecutor:
        from distributed import Client, LocalCluster  # untyped: called through Any

        timeout = self._compute.connect_timeout_s
        try:
            if self._address:
                self._client = await asyncio.wait_for(
                    _any(Client)(self._address, asynchronous=True, timeout=timeout), timeout + 1.0
                )
                self.name = f"dask cluster at {self._address}"
            else:
                self._cluster = await _any(LocalCluster)(
                    n_workers=self._compute.workers,
                    threads_per_worker=1,
                    processes=True,
                    asynchronous=True,
                    dashboard_address=":0",
                )
                self._client = await _any(Client)(self._cluster, asynchronous=True)
                self.name = f"dask LocalCluster ({self._compute.workers} worker processes x 1 thread)"
        except (OSError, TimeoutError) as exc:
            await self.__aexit__()
            where = self._address or "a LocalCluster"
            raise ComputeError(
                f"cannot reach the Dask scheduler at {where} within {timeout:g} s "
                f"([compute] connect_timeout_s): {type(exc).__name__}: {exc}; nothing was stored"
            ) from None
        self.dashboard = self._client.dashboard_link
        # Every worker compiles (or loads from numba's cache) the kernels once, before the first task; a
        # worker that replaces a dead one pays it with its first task.
        await self._client.run(warm_kernels)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._cluster is not None:
            await self._cluster.close()
            self._cluster = None

    async def scatter_bars(self, bars: Mapping[str, Bars], symbols: Sequence[str]) -> dict[str, Any]:
        """Each token's bars on every worker (``broadcast``): any worker runs any of its tasks without
        fetching them first, and a worker that dies takes no token's only copy with it (a task whose
        scattered input is lost cannot be rerun: Dask cannot recompute scattered data).

        ``hash=False``: fresh keys per run. With content keys a second run on the same bars re-scatters
        the key the first run's futures are releasing, and its tasks fail with "lost dependencies".
        """
        futures = await self._client.scatter([bars[s] for s in symbols], hash=False, broadcast=True)
        return dict(zip(symbols, futures, strict=True))

    async def run(
        self, bars: Mapping[str, Bars], tasks: Sequence[Task], execution: BacktestConfig, interval: str
    ) -> AsyncIterator[Result]:
        """Each task's result once, as tasks complete.

        A task whose future is cancelled by the scheduler (its worker died holding its result while a
        token's scattered bars were lost with it: Dask cannot recompute scattered data) is resubmitted
        with the token's bars scattered again, up to :data:`RESUBMITS` times; it yielded nothing before,
        so nothing is counted twice.
        """
        from distributed import as_completed
        from distributed.client import FutureCancelledError

        client = self._client
        scattered = await self.scatter_bars(bars, sorted({t.symbol for t in tasks}))
        futures: dict[str, tuple[Any, Task]] = {}
        resubmits: dict[int, int] = {}

        def submit(task: Task) -> Any:
            strategies, params = _args(task)
            future = client.submit(
                run_task, scattered[task.symbol], strategies, params, execution, interval, pure=False
            )
            futures[future.key] = (future, task)
            return future

        for task in tasks:
            submit(task)
        pending = _any(as_completed)([f for f, _ in futures.values()])
        try:
            async for future in pending:
                _, task = futures.pop(future.key)
                try:
                    result = await future
                except FutureCancelledError:
                    tries = resubmits.get(id(task), 0) + 1
                    if tries > RESUBMITS:
                        raise ComputeError(
                            f"{task.symbol}: a task was cancelled by the Dask scheduler {tries} times "
                            "(workers dying); nothing of it was stored"
                        ) from None
                    resubmits[id(task)] = tries
                    # The token's bars may have gone with the worker: scatter them again (one token).
                    scattered.update(await self.scatter_bars(bars, [task.symbol]))
                    pending.add(submit(task))
                    continue
                yield task, result
        finally:
            await client.cancel([f for f, _ in futures.values()])
