"""Keep numpy's BLAS single-threaded while an image is inspected.

The pipeline's linear algebra is many small products (thousands of rows by ten columns,
Levenberg-Marquardt normal equations, quadratic surface fits).  A threaded OpenBLAS
splits each across the cores and then keeps its helper threads spinning for a while;
on a 2-core station those spinning threads take the cores OpenCV's own threads (remap,
blur, connected components) need.  Measured on the vision benchmark (2 cores): 0.31 s
per image median with two BLAS threads, 0.22 s with one.

:func:`single_threaded_blas` sets every BLAS library loaded in the process (numpy's
OpenBLAS, and the single-threaded copy OpenCV bundles) to one thread through
``threadpoolctl`` and restores the previous counts on exit.  The setting is process-wide:
while an inspection runs, other threads of the same process also get one BLAS thread.
Overlapping inspections (threads of a web worker) share one limit, applied by the first
to start and restored by the last to finish, so none of them restores the count while
another still runs.  With no BLAS that ``threadpoolctl`` knows it does nothing: the
results are the same, only the time differs.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator

from threadpoolctl import ThreadpoolController

_lock = threading.Lock()
_active = 0  # inspections inside single_threaded_blas (guarded by _lock)
_limiter = None  # the threadpoolctl limiter they share, while _active > 0


@functools.cache
def blas_controller() -> ThreadpoolController:
    """The BLAS libraries of this process, found once (numpy's is loaded on import)."""
    import numpy  # noqa: F401  (numpy loads its BLAS; threadpoolctl scans the loaded libraries)

    return ThreadpoolController().select(user_api="blas")


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run the block with one BLAS thread (see the module docstring); restores the previous
    count when the last overlapping block exits.  Never raises for a missing or unknown BLAS."""
    global _active, _limiter
    with _lock:
        if _active == 0:
            _limiter = blas_controller().limit(limits=1)
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                _limiter.restore_original_limits()
                _limiter = None
