"""Where ``lowbit sweep`` and ``lowbit bench`` run their syntheses: worker processes on this
machine, or a running Dask distributed cluster, behind one interface (:class:`Workers`).

Both commands hand a picklable function and its arguments to :meth:`Workers.submit` and get a
:class:`concurrent.futures.Future` back; nothing else in them depends on where the work runs.

- **Local** (the default): at most ``workers`` points at once, each in a fresh Python process
  of its own, in a session of its own (so a tool that crashes or exhausts memory takes only its
  point with it, and Ctrl-C reaches only the parent, which stops the workers and their
  tools). A point whose process dies without a result is run once more; when the second
  process dies too, its future raises :class:`WorkerLost`.
- **Dask** (``scheduler`` is an address such as ``tcp://10.0.0.5:8786``): the same functions,
  sent with ``distributed.Client.submit`` to the cluster's workers, which must have lowbit
  installed (the function is sent by reference). A worker that dies has its tasks rescheduled
  by the scheduler, up to its ``distributed.scheduler.allowed-failures`` (Dask's default 3;
  start the scheduler with ``DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=1`` for one retry,
  as the local workers do); after that the future raises :class:`WorkerLost`.
"""

import concurrent.futures as cf
import contextlib
import os
import pickle
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import traceback

from ..boards.toolchain import _die_with_parent

__all__ = ["Workers", "WorkerLost", "TaskFailed", "describe", "check_address", "check_workers",
           "CONNECT_TIMEOUT"]

#: Seconds to reach a Dask scheduler before giving up (exit status 1).
CONNECT_TIMEOUT = 10.0
#: Attempts of a point whose local worker process died.
LOCAL_ATTEMPTS = 2


class WorkerLost(RuntimeError):
    """The worker running a point died (a crash, the kernel's OOM killer, a lost machine) on
    every attempt it had."""


#: A Dask scheduler's address: ``PROTOCOL://HOST:PORT`` or ``HOST:PORT``.
_ADDRESS = re.compile(r"^(?:(tcp|tls|ucx|ws|wss)://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):"
                      r"(\d{1,5})$")


def check_address(address):
    """Refuse, as :class:`~lowbit.golden.checks.UsageError`, a ``--scheduler`` that is not a
    Dask scheduler address (before anything connects or is written)."""
    from ..golden.checks import UsageError

    m = _ADDRESS.match(address or "")
    if not m or not 0 < int(m.group(3)) < 65536:
        raise UsageError(f"--scheduler {address!r} is not a Dask scheduler address; give "
                         f"tcp://HOST:PORT (or HOST:PORT; tls://, ucx://, ws:// also), such as "
                         f"tcp://10.0.0.5:8786")


def check_workers(workers, scheduler):
    """Refuse a ``--workers`` below 1, or given with ``--scheduler``."""
    from ..golden.checks import UsageError

    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be at least 1, not {workers}")
    if workers is not None and scheduler:
        raise UsageError("--workers is for local worker processes; with --scheduler the "
                         "cluster's workers run the syntheses")


def _reachable(address, timeout):
    """For a tcp address: whether a TCP connection opens within ``timeout`` seconds (so that an
    unreachable scheduler costs no Dask client, whose clean-up waits on its own timeouts)."""
    m = _ADDRESS.match(address)
    if m.group(1) not in (None, "tcp"):
        return True, ""
    host = m.group(2).strip("[]")
    try:
        with socket.create_connection((host, int(m.group(3))), timeout=timeout):
            return True, ""
    except OSError as exc:
        return False, exc.strerror or str(exc) or type(exc).__name__


def describe(exc):
    """``"Type: message"`` of a point's exception, wherever it ran."""
    return str(exc) if isinstance(exc, TaskFailed) else f"{type(exc).__name__}: {exc}"


class _Died(Exception):
    """One local attempt's process ended without a result."""


class TaskFailed(RuntimeError):
    """The function raised in a local worker process: the message is the exception's type and
    text (``"SynthError: ..."``), the worker's traceback is :attr:`traceback`."""

    def __init__(self, message, tb=""):
        super().__init__(message)
        self.traceback = tb


def _stop(signum, frame):
    raise KeyboardInterrupt(signum)


#: The worker process's program: ``python -c CHILD FD``, the task pickled on its standard
#: input, the result pickled to file descriptor FD.
_CHILD = "from lowbit.gen.executor import _child_main; _child_main()"


def _child_main():
    """A local worker process: run one task. SIGTERM (``close(cancel=True)``, sent to its
    whole session with the tools it started) unwinds like Ctrl-C, so that temporary
    directories go; an interrupted task sends nothing and prints nothing."""
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    fd = int(sys.argv[1])
    try:
        fn, args = pickle.load(sys.stdin.buffer)
        try:
            message = ("ok", fn(*args))
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - everything else goes to the parent
            message = ("error", f"{type(exc).__name__}: {exc}", traceback.format_exc())
        with os.fdopen(fd, "wb") as f:
            pickle.dump(message, f)
    except KeyboardInterrupt:
        sys.exit(1)


class Workers:
    """Context manager: ``workers`` local processes (default: one a core), or the Dask cluster
    whose scheduler is at ``scheduler``.

    Attributes
    ----------
    count : int
        How many points can run at once (local processes, or the cluster's worker threads
        when it was reached).
    where : str
        Where the work runs, for progress lines and results.
    """

    def __init__(self, workers=None, scheduler=None, *, connect_timeout=CONNECT_TIMEOUT):
        self.scheduler = scheduler
        self.connect_timeout = connect_timeout
        self.count = max(1, int(workers or os.cpu_count() or 1))
        self._client = None
        self._threads = None
        self._procs = set()
        self._dask_futures = []
        self._lock = threading.Lock()
        self._closing = False

    # -- opening and closing

    def __enter__(self):
        if self.scheduler is None:
            self._threads = cf.ThreadPoolExecutor(self.count, thread_name_prefix="lowbit-worker")
            self.where = (f"{self.count} local worker process{'es' if self.count > 1 else ''}")
            return self
        try:
            from distributed import Client
        except ImportError as exc:  # pragma: no cover - a dependency of lowbit
            raise RuntimeError(f"--scheduler needs Dask's distributed package: {exc}") from None
        ok, why = _reachable(self.scheduler, self.connect_timeout)
        if not ok:
            raise RuntimeError(f"cannot reach the Dask scheduler at {self.scheduler!r} within "
                               f"{self.connect_timeout:g} s: {why}")
        try:
            self._client = Client(self.scheduler, timeout=self.connect_timeout,
                                  set_as_default=False)
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RuntimeError(f"cannot reach the Dask scheduler at {self.scheduler!r} within "
                               f"{self.connect_timeout:g} s: {text}") from None
        try:
            self._client.wait_for_workers(1, timeout=self.connect_timeout)
        except (TimeoutError, OSError):
            self.close()
            raise RuntimeError(f"the Dask scheduler at {self.scheduler!r} has no workers (none "
                               f"joined within {self.connect_timeout:g} s); start some with "
                               f"'dask worker {self.scheduler}'") from None
        nthreads = sum(self._client.nthreads().values())
        self.count = max(1, nthreads)
        self.where = (f"Dask scheduler {self.scheduler} ({nthreads} worker thread"
                      f"{'' if nthreads == 1 else 's'} when connected)")
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(cancel=exc_type is not None)
        return False

    def close(self, *, cancel=False):
        """Stop: with ``cancel``, points not finished are abandoned (local processes are
        terminated, Dask tasks cancelled)."""
        with self._lock:
            self._closing = True
            procs = list(self._procs)
        if cancel:
            for p in procs:  # the worker and the tools it started
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(p.pid, signal.SIGTERM)
        if self._threads is not None:
            self._threads.shutdown(wait=not cancel, cancel_futures=cancel)
            if cancel:
                for p in procs:
                    try:
                        p.wait(5)
                    except subprocess.TimeoutExpired:
                        with contextlib.suppress(ProcessLookupError, PermissionError):
                            os.killpg(p.pid, signal.SIGKILL)
        if self._client is not None:
            client, self._client = self._client, None
            if cancel and self._dask_futures:  # tasks not finished: dropped on the cluster too
                with contextlib.suppress(Exception):
                    client.cancel(self._dask_futures)
            client.close(timeout=self.connect_timeout)

    # -- the work

    def submit(self, fn, *args):
        """Run ``fn(*args)`` on a worker; a :class:`concurrent.futures.Future` of its result.

        ``fn`` and ``args`` must be picklable, ``fn`` importable by name where it runs. An
        exception in ``fn`` is the future's exception (locally a :class:`TaskFailed` that
        names its type and message); a worker lost on every attempt is :class:`WorkerLost`.
        """
        if self._client is not None:
            return self._dask_submit(fn, args)
        outer = cf.Future()
        self._local_attempt(outer, fn, args, 1)
        return outer

    def _dask_submit(self, fn, args):
        from distributed.scheduler import KilledWorker

        inner = self._client.submit(fn, *args, pure=False)
        self._dask_futures.append(inner)
        outer = cf.Future()

        def done(fut):
            try:
                outer.set_result(fut.result())
            except KilledWorker as exc:
                outer.set_exception(WorkerLost(
                    f"its Dask worker died on every attempt the scheduler allowed ({exc})"))
            except BaseException as exc:  # noqa: BLE001 - the point's own failure
                if not outer.done():
                    outer.set_exception(exc)
        inner.add_done_callback(done)
        return outer

    def _local_attempt(self, outer, fn, args, attempt):
        stopping = WorkerLost("the run is stopping")
        try:
            inner = self._threads.submit(self._in_process, fn, args)
        except RuntimeError:  # the pool is shutting down
            outer.set_exception(stopping)  # (cancel() would not wake as_completed)
            return

        def done(fut):
            if fut.cancelled():
                outer.set_exception(stopping)
                return
            exc = fut.exception()
            if isinstance(exc, _Died) and attempt < LOCAL_ATTEMPTS and not self._closing:
                self._local_attempt(outer, fn, args, attempt + 1)
            elif isinstance(exc, _Died):
                outer.set_exception(WorkerLost(
                    f"its worker process died {attempt} time{'s' if attempt > 1 else ''} "
                    f"({exc})"))
            elif exc is not None:
                outer.set_exception(exc)
            else:
                outer.set_result(fut.result())
        inner.add_done_callback(done)

    def _in_process(self, fn, args):
        # A process in a session of its own: Ctrl-C at the terminal reaches only this
        # process, which stops the workers (and their tools) itself.
        payload = pickle.dumps((fn, args))
        r, w = os.pipe()
        with tempfile.TemporaryFile() as err:
            with self._lock:
                if self._closing:
                    os.close(r)
                    os.close(w)
                    raise _Died("the run is stopping")
                try:
                    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(w)],
                                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                            stderr=err, pass_fds=(w,), start_new_session=True,
                                            preexec_fn=_die_with_parent)
                finally:
                    os.close(w)
                self._procs.add(proc)
            try:
                with os.fdopen(r, "rb") as result:
                    try:
                        proc.stdin.write(payload)
                        proc.stdin.close()
                    except BrokenPipeError:
                        pass
                    data = result.read()
                proc.wait()
            finally:
                with self._lock:
                    self._procs.discard(proc)
            if not data:
                err.seek(0)
                last = [ln for ln in err.read().decode(errors="replace").splitlines()
                        if ln.strip()]
                raise _Died(f"exit status {proc.returncode}"
                            + (f": {last[-1].strip()}" if last else ""))
        try:
            message = pickle.loads(data)
        except (pickle.UnpicklingError, EOFError, ValueError) as exc:  # cut short as it died
            raise _Died(f"exit status {proc.returncode}, its result cut short ({exc})") from None
        if message[0] == "error":
            raise TaskFailed(message[1], message[2])
        return message[1]
