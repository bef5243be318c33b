"""Where candidates run: a local pool (this process and worker processes), or a Dask distributed cluster.
Both take `submit(k, cfg)` (the calculator's config vector of candidate k) and hand back futures whose
result is `evaluate.evaluate`'s (k, stats, stats as JSON text, seconds); `wait(futures)` returns those done
(at least one). Which backend, process or worker ran a candidate changes nothing in its result. The local
pool talks to each worker process over its own pipe: two candidates in flight per worker, no pickling of
the job per task, no helper threads."""
from __future__ import annotations

import gc
import multiprocessing
import threading
from collections import deque
from multiprocessing.connection import wait as wait_conn

from passivx.errors import PassivxError
from passivx.optimize.evaluate import Job, evaluate, evaluator, settle, worker_main


DEPTH = 2  # candidates sent to a worker process ahead of its results


class _Dead(PassivxError):
    """A worker process is gone."""


class _Task:
    """A local candidate: `done()` and `result()` like a future's."""

    def __init__(self, k: int, cfg) -> None:
        self.task, self._answer = (k, cfg), None

    def done(self) -> bool:
        return self._answer is not None

    def result(self):
        ok, value = self._answer
        if not ok:
            raise value
        return value


class LocalBackend:
    """`workers` evaluators: this process and `workers - 1` spawned worker processes, each opening the data
    once (`evaluate.worker_main`) and fed candidates over a pipe. Instead of sleeping until a result comes,
    this process evaluates the candidates no worker process has room for: those cost no pipe and no
    wake-up, the dearest part of a short candidate's bookkeeping (one worker: no process is spawned).
    Returns once every worker process has loaded the data and the engine; each process then leaves what it
    loaded out of garbage collections (`evaluate.settle`; `close` undoes it here)."""

    def __init__(self, job: Job, workers: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.job, self.workers, self._procs = job, workers, []
        self._queue: deque[_Task] = deque()
        for _ in range(workers - 1):
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(target=worker_main, args=(theirs, job), daemon=True)
            proc.start()
            theirs.close()
            self._procs.append((proc, mine))
        evaluator(job).warm_up()
        settle()  # this process evaluates too
        self._sent: dict = {}  # connection of a live worker process -> its tasks in flight, oldest first
        for _, conn in self._procs:
            answer = self._receive(conn)
            if not answer[0]:
                self.close()
                raise answer[1]
            self._sent[conn] = deque()

    @staticmethod
    def _receive(conn) -> tuple[bool, object]:
        try:
            return conn.recv()
        except (EOFError, OSError):
            return False, _Dead("a worker process ended unexpectedly (out of memory? killed?); what is done is "
                                "saved: continue the run with --resume")

    def submit(self, k: int, cfg) -> _Task:
        task = _Task(k, cfg)
        self._queue.append(task)
        self._dispatch()
        return task

    def _dispatch(self) -> None:
        """Give each worker up to DEPTH tasks: the next is waiting in its pipe when it finishes one. A task
        beyond a worker's first goes only while another stays queued for this process: otherwise, at the end
        of a run, this process would sit idle while a worker works through tasks sent ahead."""
        while self._queue and self._sent:
            conn = min(self._sent, key=lambda c: len(self._sent[c]))
            depth = len(self._sent[conn])
            if depth >= DEPTH or (depth and len(self._queue) < 2):
                return
            task = self._queue.popleft()
            conn.send(task.task)
            self._sent[conn].append(task)

    def wait(self, pending) -> set:
        while not any(t.done() for t in pending):
            busy = [c for c, tasks in self._sent.items() if tasks]
            # a result in, or else the next queued candidate evaluated here; blocking only with none queued
            ready = wait_conn(busy, 0 if self._queue else None) if busy else []
            for conn in ready:
                answer = self._receive(conn)
                if isinstance(answer[1], _Dead):
                    for task in self._sent.pop(conn):
                        task._answer = answer
                else:
                    self._sent[conn].popleft()._answer = answer
            if not ready:
                self._evaluate_here(self._queue.popleft())
            self._dispatch()
        return {t for t in pending if t.done()}

    def _evaluate_here(self, task: _Task) -> None:
        try:
            task._answer = (True, evaluate(self.job, *task.task))
        except Exception as e:  # raised by `result()`, as a worker process's error is
            task._answer = (False, e)

    def close(self) -> None:
        for proc, conn in self._procs:
            try:
                conn.send(None)
            except OSError:
                pass
        for proc, conn in self._procs:
            proc.join(timeout=10)  # a worker finishes the candidate it is on
            if proc.is_alive():
                proc.terminate()
            conn.close()
        self._procs = []
        gc.unfreeze()


class DaskBackend:
    """The workers of the Dask scheduler at `address` (each needs passivx and the data cache)."""

    def __init__(self, job: Job, address: str) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise PassivxError("--scheduler needs Dask: pip install 'dask[distributed]'") from None
        self.job = job
        try:
            self._client = Client(address, timeout="20s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as e:
            raise PassivxError(f"cannot reach the Dask scheduler at {address} ({e})") from None
        self.workers = max(1, sum(self._client.nthreads().values()))

    def submit(self, k: int, cfg):
        return self._client.submit(evaluate, self.job, k, cfg, pure=False)

    @staticmethod
    def wait(futures) -> set:
        done = {f for f in futures if f.done()}
        if not done:
            event = threading.Event()
            for f in futures:
                f.add_done_callback(lambda _: event.set())
            event.wait()
            done = {f for f in futures if f.done()}
        return done

    def close(self) -> None:
        self._client.close()
