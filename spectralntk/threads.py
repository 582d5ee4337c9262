"""How many threads a computation uses: torch's intra-op pool and the BLAS's.

Every command that computes takes ``--threads N`` (default :data:`DEFAULT_THREADS`)
and calls :func:`set_threads` before its work starts. One thread is the default
because this toolkit's work is many small and medium tensor operations: on a 2-core
machine beside one other CPU-bound process, torch's default of one thread per core
made ``spectralntk train --preset exp2.3 --quick`` 2.3–5.6× slower than one thread
(every step waits for the thread the other process has descheduled), while on an
idle machine a second thread saved less than 10 % (the README's "Threads" section
has the measurements). The thread count changes how fast a run goes, not its
configuration; results agree to rounding.

Nothing here imports torch unless asked to (``import_torch=True``): the analytic
commands never load it.
"""

from __future__ import annotations

import os
import sys

from spectralntk.errors import check_int

__all__ = ["DEFAULT_THREADS", "MAX_THREADS", "THREAD_ENV", "resolve_threads", "set_threads"]

#: Threads of a command that is not given ``--threads`` (``sweep``: per run).
DEFAULT_THREADS = 1

#: Most threads a command may ask for (torch's and OpenMP's pools cannot hold 2**31).
MAX_THREADS = 4096

#: Environment variables read by the OpenMP runtime, OpenBLAS and MKL when they load.
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def resolve_threads(threads: int | None) -> int:
    """``threads`` validated, or :data:`DEFAULT_THREADS` for None.

    Parameters
    ----------
    threads : int or None
        Number of compute threads (1 … :data:`MAX_THREADS`); None for the default.

    Returns
    -------
    int

    Raises
    ------
    ParameterError
        Naming ``threads``, if it is not an int in [1, :data:`MAX_THREADS`].
    """
    return DEFAULT_THREADS if threads is None else check_int("threads", threads, 1, MAX_THREADS)


def set_threads(threads: int | None, *, import_torch: bool = False) -> int:
    """Use ``threads`` compute threads in this process, for torch and for the BLAS.

    Sets torch's intra-op threads (:func:`torch.set_num_threads`) if torch is
    imported (or ``import_torch``), the thread count of every BLAS library already
    loaded (numpy's and scipy's OpenBLAS, MKL; with threadpoolctl), and
    ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and ``MKL_NUM_THREADS`` in
    :data:`os.environ`, which the libraries loaded later in this process (torch
    among them: its OpenMP pool starts with that many threads, at most the
    cores) and child processes read when they start.

    Parameters
    ----------
    threads : int or None
        Number of threads (≥ 1); None for :data:`DEFAULT_THREADS`.
    import_torch : bool
        Import torch to set its thread count exactly now (commands that will use
        it); otherwise torch is only touched if something imported it already.

    Returns
    -------
    int
        The number of threads set.

    Raises
    ------
    ParameterError
        Naming ``threads``, if it is not an int ≥ 1 (nothing is changed).
    """
    n = resolve_threads(threads)
    for name in THREAD_ENV:
        os.environ[name] = str(n)
    if import_torch:
        import torch  # noqa: F401  (registers itself in sys.modules)
    torch_module = sys.modules.get("torch")
    if torch_module is not None:
        torch_module.set_num_threads(n)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=n, user_api="blas")
    return n
