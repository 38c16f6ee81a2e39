"""One computation per test run, shared by the pytest-xdist workers: the offline plans and the Helm renders.

Each worker process would otherwise plan all four stacks (~12 s CPU) and render their releases (~10 s) itself. Under
xdist every worker of one run sees the same `PYTEST_XDIST_TESTRUNUID`; values are pickled into a directory named after
it, each guarded by its own lock file, so exactly one worker computes a value and the others load it. A worker that
finds a value being computed first computes another one nobody has started (`also`), then waits, so two workers never
sit idle on the same lock. Without xdist (a plain `pytest`) nothing is written: values stay in the process.
The controller process removes the directory when the run ends (`remove_run_directory`, from conftest).
"""

from __future__ import annotations

import fcntl
import os
import pickle
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

_LOCAL: dict[str, Any] = {}


def run_directory(run_id: str | None = None) -> Path | None:
    """The run's directory; None outside xdist (the id is read at call time: xdist sets it as the worker starts)."""
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID", "") if run_id is None else run_id
    return Path(tempfile.gettempdir()) / f"mtls-platform-tests-{run_id}" if run_id else None


def shared(key: str, compute: Callable[[], Any], also: Iterable[tuple[str, Callable[[], Any]]] = ()) -> Any:
    """`compute()` once per run; `also` lists other (key, compute) pairs worth doing while another worker is busy."""
    if key in _LOCAL:
        return _LOCAL[key]
    directory = run_directory()
    if directory is None:
        _LOCAL[key] = compute()
        return _LOCAL[key]
    directory.mkdir(exist_ok=True)
    if not _try_once(directory, key, compute, block=False):
        for other, other_compute in also:
            if other not in _LOCAL:
                try:
                    _try_once(directory, other, other_compute, block=False)
                except (KeyboardInterrupt, SystemExit):
                    raise
                except BaseException:  # an error, or pytest's skip: the test that needs that value meets it itself
                    pass
        _try_once(directory, key, compute, block=True)
    return _LOCAL[key]


def _try_once(directory: Path, key: str, compute: Callable[[], Any], *, block: bool) -> bool:
    """Load `key`, or compute and store it under its lock; False when another worker holds the lock (block=False)."""
    value_path = directory / f"{key}.pickle"
    with open(directory / f"{key}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
        except BlockingIOError:
            return False
        try:
            if value_path.exists():
                _LOCAL[key] = pickle.loads(value_path.read_bytes())
            else:
                _LOCAL[key] = compute()
                partial = value_path.with_suffix(".partial")
                partial.write_bytes(pickle.dumps(_LOCAL[key], protocol=pickle.HIGHEST_PROTOCOL))
                partial.replace(value_path)  # readers see the whole value or none
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return True


def remove_run_directory(run_id: str) -> None:
    directory = run_directory(run_id)
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)
