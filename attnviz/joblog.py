"""A workflow job's log: everything the job prints goes to its log file under results/logs/."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from attnviz.errors import AttnvizError


def _stop(signum, frame):
    raise SystemExit(
        f"attnviz: stopped by signal {signum} (cancelled, or out of time on a cluster); "
        "Snakemake retries or reruns the job"
    )


@contextlib.contextmanager
def job_log(path: str | os.PathLike) -> Iterator[None]:
    """Send stdout, stderr and logging to `path`, headed by where the job runs (host, SLURM job
    id); an error is logged, then raised again. Bad input (AttnvizError) is also printed as one
    line to stderr, and the job exits with status 1, without a traceback. SIGTERM (scancel, a
    time limit) becomes an exception, so temporary files are removed on the way out."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    main = threading.current_thread() is threading.main_thread()  # signals need the main one
    previous = signal.signal(signal.SIGTERM, _stop) if main else None
    with open(path, "w", buffering=1) as log:
        slurm_job = os.environ.get("SLURM_JOB_ID")
        where = f", SLURM job {slurm_job}" if slurm_job else ""
        print(f"attnviz: job on {socket.gethostname()}{where}, pid {os.getpid()}", file=log)
        handler = logging.StreamHandler(log)
        logging.getLogger().addHandler(handler)
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                yield
        except AttnvizError as exc:  # bad input: one line, no traceback, a non-zero exit
            print(f"attnviz: {exc}", file=log)
            print(f"attnviz: {exc}", file=sys.stderr)
            raise SystemExit(1) from None
        except BaseException as exc:
            print(f"attnviz: {type(exc).__name__}: {exc}", file=log)
            raise
        finally:
            logging.getLogger().removeHandler(handler)
            if main:
                signal.signal(signal.SIGTERM, previous)
