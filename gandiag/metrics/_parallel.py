"""Run independent row blocks on all cores (threads; numpy and BLAS release the GIL).

A single BLAS call is already multi-threaded, but the element-wise passes, comparisons and
argmin reductions that follow it are not. Giving each core its own block (with BLAS held to
one thread, so cores are not oversubscribed) parallelises the whole pipeline -- the same
strategy as scikit-learn's threaded ``pairwise_distances``.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, List, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def map_blocks(fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
    """``map(fn, items)`` in order, one thread per core when there is more than one block."""
    items: List[T] = list(items)
    workers = min(len(items), available_cores())
    if workers <= 1:
        yield from map(fn, items)
        return
    from threadpoolctl import threadpool_limits

    # BLAS limited to 1 thread while our own threads run (process-wide for the call's duration).
    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(fn, items)
