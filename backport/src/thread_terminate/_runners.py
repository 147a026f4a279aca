"""asyncio.Runner, with a fallback for Python 3.9 and 3.10.

The fallback is the part of 3.13's Lib/asyncio/runners.py that
BackgroundThread uses: Runner(debug=, loop_factory=) as a context manager,
run(coro), get_loop() and close().  It leaves out what only matters in the
main thread: Ctrl-C handling (run() installs no SIGINT handler).
"""

__all__ = ('Runner',)

try:
    from asyncio import Runner
except ImportError:  # Python < 3.11
    import contextvars
    import enum
    from asyncio import coroutines
    from asyncio import events
    from asyncio import tasks

    class _State(enum.Enum):
        CREATED = "created"
        INITIALIZED = "initialized"
        CLOSED = "closed"

    class Runner:  # type: ignore[no-redef]
        """A context manager that controls event loop life cycle."""

        def __init__(self, *, debug=None, loop_factory=None):
            self._state = _State.CREATED
            self._debug = debug
            self._loop_factory = loop_factory
            self._loop = None
            self._context = None
            self._set_event_loop = False

        def __enter__(self):
            self._lazy_init()
            return self

        def __exit__(self, exc_type, exc_val, exc_tb):
            self.close()

        def close(self):
            """Shutdown and close event loop."""
            if self._state is not _State.INITIALIZED:
                return
            try:
                loop = self._loop
                _cancel_all_tasks(loop)
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                if self._set_event_loop:
                    events.set_event_loop(None)
                loop.close()
                self._loop = None
                self._state = _State.CLOSED

        def get_loop(self):
            """Return embedded event loop."""
            self._lazy_init()
            return self._loop

        def run(self, coro, *, context=None):
            """Run a coroutine inside the embedded event loop."""
            if not coroutines.iscoroutine(coro):
                raise ValueError(f"a coroutine was expected, got {coro!r}")
            if events._get_running_loop() is not None:
                raise RuntimeError(
                    "Runner.run() cannot be called from a running event loop")
            self._lazy_init()
            if context is None:
                context = self._context
            # Before 3.11, create_task() has no context parameter: a task
            # created in the context runs in a copy of it.
            task = context.run(self._loop.create_task, coro)
            return self._loop.run_until_complete(task)

        def _lazy_init(self):
            if self._state is _State.CLOSED:
                raise RuntimeError("Runner is closed")
            if self._state is _State.INITIALIZED:
                return
            if self._loop_factory is None:
                self._loop = events.new_event_loop()
                if not self._set_event_loop:
                    # Call set_event_loop only once to avoid calling
                    # attach_loop multiple times on child watchers
                    events.set_event_loop(self._loop)
                    self._set_event_loop = True
            else:
                self._loop = self._loop_factory()
            if self._debug is not None:
                self._loop.set_debug(self._debug)
            self._context = contextvars.copy_context()
            self._state = _State.INITIALIZED

    def _cancel_all_tasks(loop):
        to_cancel = tasks.all_tasks(loop)
        if not to_cancel:
            return
        for task in to_cancel:
            task.cancel()
        loop.run_until_complete(
            tasks.gather(*to_cancel, return_exceptions=True))
        for task in to_cancel:
            if task.cancelled():
                continue
            if task.exception() is not None:
                loop.call_exception_handler({
                    'message': ('unhandled exception during asyncio.run() '
                                'shutdown'),
                    'exception': task.exception(),
                    'task': task,
                })
