"""Keep numpy's BLAS single-threaded while an image is inspected.

The pipeline's linear algebra is many small products (thousands of rows by ten columns,
Levenberg-Marquardt normal equations, quadratic surface fits).  A threaded OpenBLAS
splits each across the cores and then keeps its helper threads spinning for a while;
on a 2-core station those spinning threads take the cores OpenCV's own threads (remap,
blur, connected components) need.  Measured on the vision benchmark (2 cores): 0.31 s
per image median with two BLAS threads, 0.22 s with one.

:func:`single_threaded_blas` uses OpenBLAS's per-thread setting where the loaded
library has it (0.3.27 and later: only the calling thread is affected, so a web worker's
other threads keep theirs), else the process-wide one, restored on exit.  With no
OpenBLAS loaded (another BLAS, another OS) it does nothing: the results are the same,
only the time differs.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
from collections.abc import Callable, Iterator

_LOCAL = ("openblas_set_num_threads_local",)
_GLOBAL = (
    ("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
    ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
    ("openblas_set_num_threads", "openblas_get_num_threads"),
)


def _loaded_openblas() -> list[str]:
    """Paths of the OpenBLAS shared libraries mapped into this process (Linux), else []."""
    try:
        with open("/proc/self/maps") as fh:
            paths = {line.split()[-1] for line in fh if "openblas" in line.lower() and "/" in line}
    except OSError:
        return []
    # numpy's own copy first (OpenCV may bundle another it hardly uses).
    return sorted((p for p in paths if os.path.exists(p)), key=lambda p: ("numpy" not in p, p))


@functools.cache
def _setter() -> Callable[[int], int] | None:
    """A function n -> previous thread count for this thread's BLAS calls, or None."""
    import numpy  # noqa: F401  (numpy loads its BLAS; the maps are read after)

    for path in _loaded_openblas():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in _LOCAL:
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
                return fn
        for set_name, get_name in _GLOBAL:
            set_fn, get_fn = getattr(lib, set_name, None), getattr(lib, get_name, None)
            if set_fn is not None and get_fn is not None:
                set_fn.argtypes, set_fn.restype = [ctypes.c_int], None
                get_fn.argtypes, get_fn.restype = [], ctypes.c_int

                def swap(n: int, set_fn=set_fn, get_fn=get_fn) -> int:
                    prev = get_fn()
                    set_fn(n)
                    return prev

                return swap
    return None


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run the block with one BLAS thread (see the module docstring); restores the previous
    count on exit.  Never raises for a missing or unknown BLAS."""
    setter = _setter()
    if setter is None:
        yield
        return
    prev = setter(1)
    try:
        yield
    finally:
        setter(max(int(prev), 1))
