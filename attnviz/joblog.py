"""A workflow job's log: everything the job prints goes to its log file under results/logs/."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def job_log(path: str | os.PathLike) -> Iterator[None]:
    """Send stdout, stderr and logging to `path`; an error is logged, then raised again."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", buffering=1) as log:
        handler = logging.StreamHandler(log)
        logging.getLogger().addHandler(handler)
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                yield
        except Exception as exc:
            print(f"attnviz: {type(exc).__name__}: {exc}", file=log)
            raise
        finally:
            logging.getLogger().removeHandler(handler)
