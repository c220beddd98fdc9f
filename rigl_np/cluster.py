"""``compare --cluster ADDRESS``: a grid's cells as tasks on a Dask cluster (``distributed``).

Host-side module: the client side (``run_on_cluster``, in ``compare``'s process) and the
worker side (``_cell_task``, run by a Dask worker; ``cell_main``, the cell's own process).
``distributed`` is an optional dependency (``pip install -e .[cluster]``), imported only here.

1. connect to the scheduler; wait for a worker; check that every worker sees ``OUT`` (a probe
   file written here must be readable there, and ``OUT/runs`` writable), all before any cell
   starts: the run folders live on a file system every worker mounts at the same path;
2. submit every cell as one task; a worker thread runs its cell in a fresh process (a Dask
   worker's threads cannot take signals, and a process can be stopped with a checkpoint) with
   the worker's BLAS threads (1 unless set), so results equal the same cells run locally at one
   BLAS thread, bit for bit. The process dies with its worker (``rigl_np.children``); a cell
   whose worker died is run again by Dask on another worker and resumes from its checkpoint;
3. collect: a cell that fails (diverges, or its folder is busy on that worker, or its workers
   keep dying) fails alone and is named, in the table too, as locally (``compare``);
4. on Ctrl-C or SIGTERM: set the grid's stop event; a task not started returns at once, a
   running cell gets one Ctrl-C and writes its checkpoint; wait for them (a second Ctrl-C stops
   waiting). The same command continues the grid: finished cells are read, stopped ones resumed.
"""
from __future__ import annotations

import dataclasses
import os
import pickle
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from rigl_np import children, errors
from rigl_np.config import run_name

INSTALL = "pip install -e .[cluster] in a rigl_np checkout (or pip install distributed)"
CONNECT_SECONDS = 20          # to reach the scheduler
WORKER_SECONDS = 120          # for a first worker to join it
POLL_SECONDS = 0.5            # how often a running cell's task looks at the stop event
CELL = "from rigl_np.cluster import cell_main; cell_main()"
BLAS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
# Dask's nanny gives its workers MALLOC_TRIM_THRESHOLD_=65536; in a cell's process it makes glibc
# hand every large temporary array back to the system and fault it in again: 12x the page
# faults, about 1.5x the CPU time of a run.
NOT_FOR_CELLS = ("MALLOC_TRIM_THRESHOLD_",)


def _distributed():
    try:
        import distributed
    except ImportError as e:
        raise errors.UsageError(f"--cluster needs Dask's distributed ({e}); install it with "
                                f"{INSTALL}") from None
    return distributed


def _connect(distributed, address: str, log):
    try:
        distributed.comm.resolve_address(address)      # a bad address before a Client exists
        client = distributed.Client(address, timeout=CONNECT_SECONDS, set_as_default=False)
    except (OSError, ValueError, TypeError) as e:
        raise errors.UsageError(f"--cluster {address}: cannot reach a Dask scheduler there "
                                f"({type(e).__name__}: {e}); start one with dask scheduler and "
                                "give its address (tcp://HOST:8786)") from None
    if not client.scheduler_info()["workers"]:
        log(f"waiting up to {WORKER_SECONDS} s for a worker to join {address}")
    try:
        client.wait_for_workers(1, timeout=WORKER_SECONDS)
    except (TimeoutError, OSError):
        client.close()
        raise errors.UsageError(f"--cluster {address}: no worker joined the scheduler in "
                                f"{WORKER_SECONDS} s; start some with dask worker {address}") \
            from None
    return client


def _cannot_see(probe: str, token: str) -> str:
    """On a worker: why it cannot use the compare folder that holds ``probe`` ('' if it can)."""
    probe, runs = Path(probe), Path(probe).parent / "runs"
    try:
        if probe.read_text() != token:
            return f"reads another {probe} there"
        runs.mkdir(exist_ok=True)
        mine = runs / f".{probe.name}.{uuid.uuid4().hex}"     # one per task: threads share a pid
        mine.write_text(token)
        mine.unlink()
    except OSError as e:
        return f"cannot use {e.filename or probe.parent} ({e.strerror or e})"
    return ""


def _worker_facts(probe: str, token: str) -> dict:
    import numpy

    return {"problem": _cannot_see(probe, token), "numpy": numpy.__version__}


def _check_workers(client, out: Path, log) -> tuple:
    """Write the probe file and check every worker against it (``UsageError`` naming the first
    that cannot use ``out``); returns (probe path, token), kept until the grid ends."""
    import numpy

    token = uuid.uuid4().hex
    probe = out / f".rigl_np-cluster-{token}"
    probe.write_text(token)
    try:
        facts = client.run(_worker_facts, str(probe), token, on_error="return")
        for worker, fact in sorted(facts.items()):
            if isinstance(fact, BaseException):
                raise errors.UsageError(f"--cluster: worker {worker} cannot run rigl_np "
                                        f"({type(fact).__name__}: {fact}); install rigl_np and "
                                        "its requirements on every worker")
            if fact["problem"]:
                raise errors.UsageError(f"--cluster: worker {worker} {fact['problem']}; --out "
                                        "must be on a file system every worker mounts at the "
                                        "same path")
    except BaseException:
        probe.unlink()
        raise
    for worker, fact in sorted(facts.items()):
        if fact["numpy"] != numpy.__version__:
            errors.warn(f"worker {worker} has NumPy {fact['numpy']}, this machine "
                        f"{numpy.__version__}: results may differ from a local run's")
    log(f"{len(facts)} Dask worker(s) see {out}")
    return str(probe), token


def _outcome(future) -> BaseException | None:
    """The cell's error as ``compare`` names it (None if it finished)."""
    from distributed import CancelledError
    from distributed.scheduler import KilledWorker

    try:
        error = future.exception()
    except CancelledError:
        return errors.Failure("the cluster cancelled it (was the scheduler restarted?); run "
                              "the same command again")
    if isinstance(error, KilledWorker):
        return errors.Failure("the workers running it died again and again (killed, or out "
                              "of memory); run the same command again to resume it")
    return error


def run_on_cluster(address: str, todo: list, out: Path, log) -> list:
    """Run the cells of ``todo`` on the Dask cluster at ``address``; returns the
    ``(name, error)`` of the cells that failed. ``KeyboardInterrupt`` after a stop (step 4)."""
    distributed = _distributed()
    client = _connect(distributed, address, log)
    futures, probe = {}, None
    try:
        probe, token = _check_workers(client, out, log)
        stop = distributed.Event(f"rigl_np-stop-{token}", client=client)
        futures = {client.submit(_cell_task, cfgs, stop.name, probe, token, pure=False,
                                 key=f"{run_name(cfgs)}-{token}"): cfgs for cfgs in todo}
        failed = []
        try:
            with client.as_current():         # as_completed and wait use the current client
                for future in distributed.as_completed(futures):
                    name, error = run_name(futures[future]), _outcome(future)
                    log(f"finished {name}" if error is None else f"{name} failed")
                    if error is not None:
                        failed.append((name, error))
        except BaseException:
            stop.set()
            log("stopping: the cells not started are cancelled; waiting for the running cells "
                "to write their checkpoints (Ctrl-C again stops waiting)")
            with client.as_current():
                distributed.wait(list(futures))
            raise
        return failed
    finally:
        client.cancel(list(futures))
        client.close()
        if probe is not None:
            Path(probe).unlink(missing_ok=True)


def _cell_task(cfgs: dict, stop_name: str, probe: str, token: str) -> bool:
    """On a Dask worker: run one cell in a fresh process; False if the grid stopped first."""
    from distributed import Event, get_worker

    stop = Event(stop_name)
    if stop.is_set():
        return False
    problem = _cannot_see(probe, token)
    if problem:
        raise errors.UsageError(f"worker {get_worker().address} {problem}")
    run_dir = Path(cfgs["run"].out)                 # resumed if it was stopped, here or before
    resume = str(run_dir) if (run_dir / "checkpoint.npz").exists() else None
    cfgs = {**cfgs, "run": dataclasses.replace(cfgs["run"], resume=resume)}
    env = {k: v for k, v in os.environ.items() if k not in NOT_FOR_CELLS}
    env.update({var: os.environ.get(var, "1") for var in BLAS})
    proc = subprocess.Popen([sys.executable, "-c", CELL, str(os.getpid())], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            start_new_session=True)
    payload, stopping = pickle.dumps(cfgs), False
    while True:
        try:
            result, _ = proc.communicate(payload, timeout=POLL_SECONDS)
            break
        except subprocess.TimeoutExpired:
            payload = None                          # sent already; a retry must not resend it
            if not stopping and stop.is_set():
                children.interrupt([proc.pid])
                stopping = True
    if not result:
        how = (f"was killed by {signal.Signals(-proc.returncode).name}" if proc.returncode < 0
               else f"exited with code {proc.returncode} without a result")
        raise errors.Failure(f"its process on worker {get_worker().address} {how}")
    status, value = pickle.loads(result)
    if status == "error":
        raise value
    return True


def cell_main() -> None:
    """The cell's own process: read the pickled configuration on stdin, run it (its log goes to
    stderr, the worker's log) and write the pickled ``("ok", None)`` or ``("error", e)`` on
    stdout."""
    from rigl_np.experiment import run

    children.die_with_parent(int(sys.argv[1]))
    cfgs = pickle.load(sys.stdin.buffer)
    result, sys.stdout = sys.stdout.buffer, sys.stderr
    name = run_name(cfgs)
    try:
        with errors.quiet_float_warnings():
            run(cfgs, log=lambda line: print(f"    {name}: {line}", flush=True))
        outcome = ("ok", None)
    except BaseException as e:                      # Ctrl-C included: it is the task's answer
        outcome = ("error", e)
    try:
        data = pickle.dumps(outcome)
    except Exception:                               # an error that cannot travel: its message
        data = pickle.dumps(("error", errors.Failure(errors.message(outcome[1]))))
    result.write(data)
    result.flush()
