"""Thread settings for interactive use.

An unlock handles one frame at a time: a 64-number embedding compared with a handful (or, for
a big gallery, 100k) of references. A multi-threaded BLAS only adds wake-up cost to such small
products, and on a busy 2-core machine it made matching 100k references 3× slower (see
docs/benchmarks.md). The app and the runtime commands therefore run numpy's BLAS on one thread
(threadpoolctl); bulk work (training, evaluation) keeps the default.
"""

from __future__ import annotations


def limit_blas_threads(n: int = 1):
    """Limit the BLAS thread pools loaded in this process to ``n`` threads (for good)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=n, user_api="blas")
