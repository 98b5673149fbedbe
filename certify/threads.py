"""Thread control for the many small dense problems that bound methods solve."""

from __future__ import annotations

from contextlib import AbstractContextManager

from threadpoolctl import threadpool_limits

__all__ = ["single_threaded"]


def single_threaded() -> AbstractContextManager:
    """One BLAS thread.  On two cores shared with another busy process, each BLAS call waits for
    its second thread, which made LipSDP's thousands of small eigenproblems up to forty times
    and the checker's Cholesky factorisations up to twenty times slower (measured)."""
    return threadpool_limits(1)
