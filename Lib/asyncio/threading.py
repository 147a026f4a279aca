"""Event loops running in background threads.

Import this module as asyncio.threading: "import asyncio" neither imports
it nor re-exports its names, so that asyncio users who do not need it pay
nothing for it.
"""

__all__ = ('BackgroundThread',)

import concurrent.futures
import contextvars
import enum
import inspect
import threading

from . import coroutines
from . import events
from . import exceptions
from . import futures
from . import runners
from . import tasks


class _State(enum.Enum):
    CREATED = "created"          # the loop is not running yet
    RUNNING = "running"          # the loop runs the main task
    TERMINATING = "terminating"  # terminate() was called
    FINISHED = "finished"        # the main task is over


class BackgroundThread(threading.Thread):
    """A thread that runs a coroutine in its own event loop.

    The thread runs ``await task_target(*args, **kwargs)`` in a new event
    loop, through asyncio.Runner (with loop_factory and debug).  Without a
    task_target, the loop runs until the thread is terminated, serving
    run_coroutine_threadsafe() calls.

    terminate() cancels the task; the thread then ends once the task's
    cleanup has run and the loop is closed.  It is a service thread: at
    exit, the interpreter calls terminate() (its __terminate__() method)
    once the threads that may use it are done, or after five seconds, so
    that the program exits although it is never a daemon thread.
    """

    # Which thread touches what: _state, _loop and _calls are guarded by
    # _lock, which is held only to read and write them, with neither a call
    # nor a loop in between, and without dropping the last reference to an
    # object: signal handlers and the garbage collector's finalizers, which
    # may call terminate() and run_coroutine_threadsafe() at any moment, run
    # at such points.  The lock is reentrant all the same, so that a handler
    # that still runs while its thread holds the lock (in the lock's own
    # acquire, say) sees a consistent state instead of deadlocking.
    # _main_task and _tasks are used in the loop only.

    # task_target comes first, so that BackgroundThread(main) runs main;
    # Thread's group, reserved for a future extension, is left out, and the
    # other parameters are keyword-only, as for asyncio.Runner.
    def __init__(self, task_target=None, *, name=None, args=(), kwargs=None,
                 loop_factory=None, debug=None):
        if coroutines.iscoroutine(task_target):
            # Not awaited here: close it, so that there is no "never
            # awaited" warning on top of the error.
            task_target.close()
            raise TypeError("task_target must be a coroutine function or "
                            "another callable, not a coroutine object: "
                            "pass main, not main()")
        if task_target is not None and not callable(task_target):
            raise TypeError("task_target must be callable or None")
        if inspect.isasyncgenfunction(task_target):
            raise TypeError("task_target must return an awaitable, not an "
                            "asynchronous generator")
        # Checked here rather than when the thread starts its runner, where
        # the error would only reach threading.excepthook.
        if loop_factory is not None and not callable(loop_factory):
            raise TypeError("loop_factory must be callable or None")
        # task_target is kept as Thread's target, which also gives the
        # thread its default name.
        super().__init__(target=task_target, name=name, args=args,
                         kwargs=kwargs, daemon=False, service=True)
        self._loop_factory = loop_factory
        self._debug = debug
        self._lock = threading.RLock()
        self._state = _State.CREATED
        # The loop, while the main task runs.
        self._loop = None
        self._main_task = None
        # {future: (coro, context)} of the run_coroutine_threadsafe() calls
        # not started in the loop yet; run() discards those left when it
        # ends.
        self._calls = {}
        # The tasks of run_coroutine_threadsafe(), used in the loop only.
        self._tasks = set()
        # Set once the loop runs, or the thread ended without running it.
        self._loop_started = _Latch()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        # As when leaving asyncio.Runner: the work is over, whatever
        # happened in the block, whose exception goes on.
        self.terminate()
        self.join()

    @property
    def daemon(self):
        return super().daemon

    @daemon.setter
    def daemon(self, daemonic):
        # As Thread, which raises RuntimeError where daemon threads are
        # not allowed.
        if not self._initialized:
            raise RuntimeError("Thread.__init__() not called")
        if self._started.is_set():
            raise RuntimeError("cannot set daemon status of active thread")
        if daemonic:
            raise RuntimeError("a BackgroundThread cannot be a daemon thread")

    def get_loop(self):
        """Return the thread's event loop, once it runs.

        Wait until the loop runs.  Raise RuntimeError if the thread is not
        started, or if its loop no longer runs (or never will: terminated
        before it ran).
        """
        if self._ident is None:
            raise RuntimeError(f"{self!r} is not started")
        # In the thread itself (in its loop_factory, or in a callback of a
        # call cancelled as it ends), the loop cannot start meanwhile.
        if self._ident != threading.get_ident():
            self._loop_started.wait()
        loop = self._loop
        if loop is None:
            # Terminated, ended, or its loop_factory failed.
            raise RuntimeError(f"the event loop of {self!r} is not running")
        return loop

    def run(self):
        """Run the task in a new event loop until it ends or is terminated."""
        try:
            with self._lock:
                terminated = self._state is _State.TERMINATING
            if not terminated:
                with runners.Runner(debug=self._debug,
                                    loop_factory=self._loop_factory) as runner:
                    try:
                        runner.run(self._run_main_task())
                    finally:
                        # Also if the loop stopped before the main task
                        # ended (SystemExit or KeyboardInterrupt raised by
                        # a call): no call may start while the runner
                        # closes the loop, it would be left pending.
                        with self._lock:
                            self._state = _State.FINISHED
                            self._loop = None
        finally:
            calls = {}
            with self._lock:
                self._state = _State.FINISHED
                calls, self._calls = self._calls, calls
            for future, (coro, _) in calls.items():
                self._discard(coro, future)
            self._loop_started.set()
            # Avoid a refcycle if the task refers to the thread, as
            # Thread.run() does.
            del self._target, self._args, self._kwargs

    async def _run_main_task(self):
        loop = events.get_running_loop()
        self._main_task = tasks.current_task()
        calls = {}
        with self._lock:
            if self._state is _State.TERMINATING:
                # Terminated before the loop ran: never start the task.
                return
            self._state = _State.RUNNING
            self._loop = loop
            calls, self._calls = self._calls, calls
        self._loop_started.set()
        try:
            # Started by the loop, like the calls made once it runs, whose
            # exceptions go to its exception handler.
            for future, (coro, context) in calls.items():
                loop.call_soon(self._start_call, coro, future,
                               context=context)
            del calls
            if self._target is None:
                await loop.create_future()  # until terminated
            else:
                awaitable = self._target(*self._args, **self._kwargs)
                if not inspect.isawaitable(awaitable):
                    raise TypeError(
                        f"task_target must return an awaitable, "
                        f"not {type(awaitable).__name__}")
                await awaitable
        except exceptions.CancelledError:
            # Cancellation by terminate() is the normal way to end.
            if self._state is not _State.TERMINATING:
                raise
        finally:
            # From now on run_coroutine_threadsafe() refuses new work; the
            # loop is closed by the runner, which cancels what still runs.
            with self._lock:
                self._state = _State.FINISHED
                self._loop = None
            # Let the task go now: until it is freed, every event loop's
            # asyncio.all_tasks() walks past it, and the runner's shutdown
            # calls that (at exit, once per BackgroundThread).
            self._main_task = None

    def _cancel_main_task(self):
        # Called in the loop for each terminate() call: cancel only once,
        # so that the task's cleanup is not interrupted in turn.
        task, self._main_task = self._main_task, None
        if task is not None:
            task.cancel()

    def _schedule(self, future):
        # Called in the loop, for a call submitted while it runs.
        with self._lock:
            coro, _ = self._calls[future]
            del self._calls[future]
            finished = self._state is _State.FINISHED
        if finished:
            # Submitted while running, but arrived after the main task.
            self._discard(coro, future)
        else:
            self._start_call(coro, future)

    def _start_call(self, coro, future):
        # Called in the loop.
        try:
            task = tasks.ensure_future(coro)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            # As asyncio.run_coroutine_threadsafe() does, for instance if
            # the loop's task factory fails: for the caller, and for the
            # loop's exception handler.
            coro.close()
            if future.set_running_or_notify_cancel():
                future.set_exception(exc)
            raise
        # The loop only keeps weak references to its tasks: if the caller
        # drops the future, the task must not be garbage collected while
        # pending, but be cancelled when the thread terminates, with its
        # cleanup run.  So the thread keeps the task until it is done.
        # This chains the task and the future as futures._chain_future()
        # does, but lets the task go in the same done callback: one loop
        # callback per call, as for asyncio.run_coroutine_threadsafe().
        self._tasks.add(task)
        loop = task.get_loop()

        def task_done(task):
            self._tasks.discard(task)
            futures._set_concurrent_future_state(future, task)

        def future_done(future):
            if future.cancelled():
                self._call_soon_threadsafe(loop, task.cancel)

        future.add_done_callback(future_done)
        task.add_done_callback(task_done)

    @staticmethod
    def _discard(coro, future):
        # A submission that will never run: close the coroutine, so that
        # there is no "never awaited" warning, and wake up its caller.
        coro.close()
        future.cancel()

    def terminate(self):
        """Ask the thread to stop, by cancelling its task.

        Thread-safe, idempotent and non-blocking: call join() to wait for
        the end of the thread.  If the loop is not running yet, the task is
        never started.  This is also the thread's __terminate__() method,
        called at interpreter exit.  It may be called from a signal handler
        or a finalizer.
        """
        # Its users no longer count on it: at exit, the end of its task's
        # cleanup is waited for before executors shut down, as for any thread
        # asked to terminate.
        self._Thread__service = False
        with self._lock:
            if self._state is _State.FINISHED:
                return
            self._state = _State.TERMINATING
            loop = self._loop
        if loop is not None:
            # On every call: one interrupted (by Ctrl-C) after the state
            # changed is completed by the next, for instance at exit.
            self._call_soon_threadsafe(loop, self._cancel_main_task)

    def __terminate__(self):
        # Interpreter exit asks the thread to terminate; a subclass may
        # extend terminate().
        self.terminate()

    @staticmethod
    def _call_soon_threadsafe(loop, callback, *args, context=None):
        try:
            loop.call_soon_threadsafe(callback, *args, context=context)
        except RuntimeError:
            # The main task has just ended and the runner closed the loop.
            if not loop.is_closed():
                raise

    def _after_fork(self, new_ident=None):
        super()._after_fork(new_ident)
        # Another thread of the parent may have held the lock.
        self._lock = threading.RLock()
        if new_ident is None and self._ident is not None:
            # The parent's thread, which does not run in the child: refuse
            # calls at once, they would never complete.
            self._state = _State.FINISHED
            self._loop = None
            self._loop_started.set()

    def run_coroutine_threadsafe(self, coro):
        """Submit a coroutine object to the thread's event loop.

        Return a concurrent.futures.Future to access the result, as
        asyncio.run_coroutine_threadsafe() does.  Raise RuntimeError if the
        thread is not started, or once it was asked to terminate.  Futures
        still pending when the thread ends are cancelled.  The coroutine
        runs in a copy of the caller's context.
        """
        if not coroutines.iscoroutine(coro):
            raise TypeError(f"coro must be a coroutine object, "
                            f"not {type(coro).__name__}")
        future = concurrent.futures.Future()
        # The task runs in a copy of the caller's context, as with
        # asyncio.run_coroutine_threadsafe(), also if the call waits for
        # the loop to run.  The entry of _calls is built before taking the
        # lock, under which nothing is allocated.
        context = contextvars.copy_context()
        call = (coro, context)
        with self._lock:
            state = self._state
            loop = self._loop
            # Before the loop runs, the calls wait in _calls for it.
            accepted = (state is _State.RUNNING
                        or state is _State.CREATED and self._ident is not None)
            if accepted:
                self._calls[future] = call
        if not accepted:
            coro.close()
            if state is _State.CREATED:
                raise RuntimeError(f"{self!r} is not started")
            raise RuntimeError(f"{self!r} is terminated")
        if loop is not None:
            # If the loop has closed meanwhile, run() cancels the future.
            self._call_soon_threadsafe(loop, self._schedule, future,
                                       context=context)
        return future


class _Latch:
    """An event that is set once, and that a signal handler may wait for.

    Unlike threading.Event, whose lock a signal handler may interrupt the
    main thread holding (in get_loop(), say), the waiters share no lock
    with each other or with the thread that sets it: each waits on a lock
    of its own, released by set().
    """

    def __init__(self):
        self._flag = False
        self._waiters = []

    def set(self):
        self._flag = True
        # set() writes the flag, then takes the list; wait() adds to the
        # list, then reads the flag: each is seen by the other, or both.
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.release()

    def wait(self):
        if self._flag:
            return
        waiter = threading.Lock()
        waiter.acquire()
        self._waiters.append(waiter)
        if not self._flag:
            waiter.acquire()
