"""Tests for asyncio.threading (BackgroundThread)."""

import asyncio
import asyncio.threading
import concurrent.futures
import contextvars
import gc
import inspect
import os
import re
import textwrap
import threading
import unittest
import warnings
import weakref
from test import support
from test.support import import_helper, threading_helper
from test.support.script_helper import assert_python_ok

threading_helper.requires_working_threading(module=True)


def tearDownModule():
    asyncio.set_event_loop_policy(None)


TIMEOUT = support.SHORT_TIMEOUT


async def wait_forever(started, cleanup):
    """Set *started*, then wait until cancelled; record the cleanup."""
    started.set()
    try:
        await asyncio.Event().wait()
    finally:
        await asyncio.sleep(0)  # the loop is still open
        cleanup.append("finally")


class BackgroundThreadTests(unittest.TestCase):

    def setUp(self):
        # Cleanups run last-in first-out: this one after the threads of
        # the test are stopped.
        self.addCleanup(threading_helper.threading_cleanup,
                        *threading_helper.threading_setup())

    def start(self, *args, **kwargs):
        thread = asyncio.threading.BackgroundThread(*args, **kwargs)
        thread.start()
        self.addCleanup(self.stop, thread)
        return thread

    def stop(self, thread):
        thread.terminate()
        threading_helper.join_thread(thread)

    def test_task_returns(self):
        results = []

        async def main(*args, **kwargs):
            await asyncio.sleep(0)
            results.append((args, kwargs))

        thread = self.start(task_target=main, args=(1, 2), kwargs={'a': 3})
        threading_helper.join_thread(thread)
        self.assertEqual(results, [((1, 2), {'a': 3})])
        self.assertFalse(thread.is_alive())

    def test_default_name(self):
        async def main():
            pass

        thread = asyncio.threading.BackgroundThread(task_target=main)
        self.assertRegex(thread.name, r'^Thread-\d+ \(main\)$')
        thread = asyncio.threading.BackgroundThread(name='portal')
        self.assertEqual(thread.name, 'portal')

    def test_terminate_cancels_task(self):
        started = threading.Event()
        cleanup = []
        loops = []

        class Resource:
            async def __aenter__(self):
                loops.append(asyncio.get_running_loop())

            async def __aexit__(self, *exc_info):
                await asyncio.sleep(0)
                cleanup.append(("aexit", exc_info[0]))

        async def main():
            async with Resource():
                await wait_forever(started, cleanup)

        with threading_helper.catch_threading_exception() as cm:
            thread = self.start(task_target=main)
            self.assertTrue(started.wait(TIMEOUT))
            self.assertTrue(thread.is_alive())
            thread.terminate()
            threading_helper.join_thread(thread)
            self.assertIsNone(cm.exc_type)  # termination is not an error
        self.assertEqual(cleanup, ["finally",
                                   ("aexit", asyncio.CancelledError)])
        self.assertTrue(loops[0].is_closed())

    def test_terminate_is_idempotent(self):
        started = threading.Event()
        cleanup = []
        thread = self.start(task_target=wait_forever, args=(started, cleanup))
        self.assertTrue(started.wait(TIMEOUT))
        for _ in range(3):
            thread.terminate()
        threading_helper.join_thread(thread)
        thread.terminate()  # after the end: no-op
        self.assertEqual(cleanup, ["finally"])

    def test_task_and_loop_freed_when_finished(self):
        # A finished thread keeps neither its task nor its loop alive, even
        # without the cyclic GC: until a task is freed, asyncio.all_tasks()
        # in every other loop walks past it.
        started = threading.Event()
        refs = []

        async def main():
            refs.append(weakref.ref(asyncio.current_task()))
            refs.append(weakref.ref(asyncio.get_running_loop()))
            await wait_forever(started, [])

        with support.disable_gc():
            thread = self.start(task_target=main)
            self.assertTrue(started.wait(TIMEOUT))
            thread.terminate()
            threading_helper.join_thread(thread)
            self.assertEqual([ref() for ref in refs], [None, None])

    def test___terminate___calls_terminate(self):
        calls = []

        class Thread(asyncio.threading.BackgroundThread):
            def terminate(self):
                calls.append("terminate")
                super().terminate()

        thread = Thread()
        thread.start()
        thread.__terminate__()
        threading_helper.join_thread(thread)
        self.assertEqual(calls, ["terminate"])

    def test_task_factory_failure_reported_to_caller(self):
        def loop_factory():
            loop = asyncio.new_event_loop()

            def task_factory(loop, coro, **kwargs):
                if coro.__name__ == "fails_to_start":
                    raise ZeroDivisionError
                return asyncio.Task(coro, loop=loop, **kwargs)

            loop.set_task_factory(task_factory)
            loop.set_exception_handler(
                lambda loop, context: handled.append(context))
            return loop

        handled = []
        thread = self.start(loop_factory=loop_factory)

        async def fails_to_start():
            pass

        coro = fails_to_start()
        future = thread.run_coroutine_threadsafe(coro)
        with self.assertRaises(ZeroDivisionError):
            future.result(TIMEOUT)
        self.assertEqual(inspect.getcoroutinestate(coro), 'CORO_CLOSED')
        # Reported to the loop's exception handler too, as by
        # asyncio.run_coroutine_threadsafe(), once the future is set: a
        # later call returns after that.
        thread.run_coroutine_threadsafe(asyncio.sleep(0)).result(TIMEOUT)
        self.assertEqual(len(handled), 1)
        self.assertIsInstance(handled[0]['exception'], ZeroDivisionError)

    def test_task_factory_failure_before_loop_runs(self):
        creating = threading.Event()
        release = threading.Event()
        handled = []

        def loop_factory():
            creating.set()
            release.wait(TIMEOUT)
            loop = asyncio.EventLoop()
            loop.set_task_factory(
                lambda loop, coro, **kwargs:
                    1 / 0 if coro.__name__ == "fails_to_start"
                    else asyncio.Task(coro, loop=loop, **kwargs))
            loop.set_exception_handler(
                lambda loop, context: handled.append(context))
            return loop

        thread = self.start(loop_factory=loop_factory)
        self.assertTrue(creating.wait(TIMEOUT))

        async def fails_to_start():
            pass

        future = thread.run_coroutine_threadsafe(fails_to_start())
        release.set()
        with self.assertRaises(ZeroDivisionError):
            future.result(TIMEOUT)
        # The loop still runs, and reported the error once the future was
        # set: a later call returns after that.
        thread.run_coroutine_threadsafe(asyncio.sleep(0)).result(TIMEOUT)
        self.assertEqual(len(handled), 1)
        self.assertIsInstance(handled[0]['exception'], ZeroDivisionError)

    def test_terminate_before_start(self):
        calls = []

        async def main():
            calls.append("main")

        thread = asyncio.threading.BackgroundThread(task_target=main)
        thread.terminate()
        thread.start()
        threading_helper.join_thread(thread)
        self.assertEqual(calls, [])

    def test_terminate_before_loop_runs(self):
        # terminate() between start() and the loop running is remembered.
        factory_called = threading.Event()
        release = threading.Event()
        calls = []

        def loop_factory():
            factory_called.set()
            release.wait(TIMEOUT)
            return asyncio.new_event_loop()

        async def main():
            calls.append("main")

        thread = self.start(task_target=main, loop_factory=loop_factory)
        self.assertTrue(factory_called.wait(TIMEOUT))
        thread.terminate()
        release.set()
        threading_helper.join_thread(thread)
        self.assertEqual(calls, [])

    def test_terminate_from_loop_thread(self):
        cleanup = []

        async def main():
            threading.current_thread().terminate()
            try:
                await asyncio.sleep(TIMEOUT)
            finally:
                cleanup.append("finally")

        thread = asyncio.threading.BackgroundThread(task_target=main)
        thread.start()
        threading_helper.join_thread(thread)
        self.assertEqual(cleanup, ["finally"])

    def test_task_exception_propagates(self):
        async def main():
            await asyncio.sleep(0)
            raise ValueError("boom")

        with threading_helper.catch_threading_exception() as cm:
            thread = self.start(task_target=main, name="failing")
            threading_helper.join_thread(thread)
            self.assertIs(cm.exc_type, ValueError)
            self.assertEqual(str(cm.exc_value), "boom")
            self.assertIs(cm.thread, thread)

    def test_cancellation_not_by_terminate_propagates(self):
        async def main():
            asyncio.current_task().cancel()
            await asyncio.sleep(0)

        with threading_helper.catch_threading_exception() as cm:
            thread = self.start(task_target=main)
            threading_helper.join_thread(thread)
            self.assertIs(cm.exc_type, asyncio.CancelledError)

    def test_task_target_must_be_callable(self):
        with self.assertRaisesRegex(TypeError,
                                    r'^task_target must be callable or None$'):
            asyncio.threading.BackgroundThread(task_target=42)

    def test_task_target_positional(self):
        # The natural call runs the coroutine function; the other parameters
        # are keyword-only.
        results = []

        async def main(*args):
            results.append(args)

        thread = self.start(main, args=(1, 2))
        threading_helper.join_thread(thread)
        self.assertEqual(results, [(1, 2)])
        with self.assertRaises(TypeError):
            asyncio.threading.BackgroundThread(main, "name")

    def test_task_target_coroutine_object(self):
        async def main():
            pass

        coro = main()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            with self.assertRaisesRegex(TypeError, r'not a coroutine object: '
                                        r'pass main, not main\(\)$'):
                asyncio.threading.BackgroundThread(coro)
            del coro
            support.gc_collect()
        # No "coroutine 'main' was never awaited".
        self.assertEqual(caught, [])

    def test_task_target_async_generator_function(self):
        async def agen():
            yield

        with self.assertRaisesRegex(TypeError, r'^task_target must return an '
                                    r'awaitable, not an asynchronous '
                                    r'generator$'):
            asyncio.threading.BackgroundThread(agen)

    def test_context_manager(self):
        # Entering starts the thread, leaving terminates and joins it, also
        # when the block raises, whose exception goes on.
        started = threading.Event()
        cleanup = []
        with asyncio.threading.BackgroundThread(
                wait_forever, args=(started, cleanup)) as thread:
            self.assertIsInstance(thread, asyncio.threading.BackgroundThread)
            self.assertTrue(started.wait(TIMEOUT))
            # Leaving does not wait for pending calls: they are cancelled.
            pending = thread.run_coroutine_threadsafe(asyncio.Event().wait())
        self.assertFalse(thread.is_alive())
        self.assertEqual(cleanup, ["finally"])
        self.assertTrue(pending.cancelled())

        with self.assertRaises(ZeroDivisionError):
            with asyncio.threading.BackgroundThread() as thread:
                self.assertEqual(thread.run_coroutine_threadsafe(
                    asyncio.sleep(0, 42)).result(TIMEOUT), 42)
                1 / 0
        self.assertFalse(thread.is_alive())

    def test_get_loop(self):
        thread = asyncio.threading.BackgroundThread()
        with self.assertRaisesRegex(RuntimeError, 'is not started'):
            thread.get_loop()
        loops = []

        async def main():
            loops.append(asyncio.get_running_loop())

        with asyncio.threading.BackgroundThread() as thread:
            loop = thread.get_loop()
            self.assertTrue(loop.is_running())
            future = asyncio.run_coroutine_threadsafe(main(), loop)
            future.result(TIMEOUT)
            self.assertIs(loops[0], loop)
        with self.assertRaisesRegex(RuntimeError, 'loop .* is not running'):
            thread.get_loop()

    def test_get_loop_terminated_before_loop_runs(self):
        thread = asyncio.threading.BackgroundThread()
        thread.terminate()
        thread.start()
        with self.assertRaisesRegex(RuntimeError, 'loop .* is not running'):
            thread.get_loop()
        threading_helper.join_thread(thread)

    def test_get_loop_loop_factory_fails(self):
        def loop_factory():
            raise ZeroDivisionError

        with threading_helper.catch_threading_exception() as cm:
            thread = asyncio.threading.BackgroundThread(
                loop_factory=loop_factory)
            thread.start()
            with self.assertRaisesRegex(RuntimeError,
                                        'loop .* is not running'):
                thread.get_loop()
            threading_helper.join_thread(thread)
            self.assertIs(cm.exc_type, ZeroDivisionError)

    def test_get_loop_in_thread_before_loop_runs(self):
        # In the thread itself, before its loop runs, get_loop() cannot
        # wait: its loop_factory, or a callback of a call cancelled because
        # the thread was terminated before its loop ran.
        errors = []
        release = threading.Event()

        def get_loop(*args):
            try:
                thread.get_loop()
            except RuntimeError as exc:
                errors.append(exc)

        def loop_factory():
            get_loop()
            release.wait(TIMEOUT)
            return asyncio.EventLoop()

        thread = asyncio.threading.BackgroundThread(loop_factory=loop_factory)
        self.addCleanup(self.stop, thread)
        thread.start()
        future = thread.run_coroutine_threadsafe(asyncio.sleep(0))
        future.add_done_callback(get_loop)
        thread.terminate()
        release.set()
        threading_helper.join_thread(thread)
        self.assertTrue(future.cancelled())
        self.assertEqual(len(errors), 2)
        for error in errors:
            self.assertRegex(str(error), 'loop .* is not running')

    def test_get_loop_keeps_no_waiter(self):
        with asyncio.threading.BackgroundThread() as thread:
            for i in range(3):
                thread.get_loop()
            self.assertEqual(thread._loop_started._waiters, [])

    def test_system_exit_in_call(self):
        # SystemExit (or KeyboardInterrupt) raised in a call stops the loop,
        # as in asyncio.run(): the thread ends, and the calls that were to
        # start are cancelled, not started in a loop about to close.
        raising = threading.Event()
        submitted = threading.Event()
        cleanup = []

        async def exit():
            raising.set()
            submitted.wait(TIMEOUT)
            raise SystemExit

        with threading_helper.catch_threading_exception() as cm:
            thread = self.start(wait_forever,
                                args=(threading.Event(), cleanup))
            exiting = thread.run_coroutine_threadsafe(exit())
            raising.wait(TIMEOUT)
            later = thread.run_coroutine_threadsafe(asyncio.sleep(0))
            submitted.set()
            threading_helper.join_thread(thread)
            self.assertIs(cm.exc_type, SystemExit)
        with self.assertRaises(SystemExit):
            exiting.result(TIMEOUT)
        self.assertTrue(later.cancelled())
        self.assertEqual(cleanup, ["finally"])
        with self.assertRaisesRegex(RuntimeError, 'is terminated'):
            thread.run_coroutine_threadsafe(asyncio.sleep(0))

    def test_loop_factory_must_be_callable(self):
        with self.assertRaisesRegex(TypeError,
                                    r'^loop_factory must be callable or None$'):
            asyncio.threading.BackgroundThread(loop_factory=42)

    def test_task_target_must_return_awaitable(self):
        with threading_helper.catch_threading_exception() as cm:
            thread = self.start(task_target=lambda: 42)
            threading_helper.join_thread(thread)
            self.assertIs(cm.exc_type, TypeError)
            self.assertEqual(str(cm.exc_value),
                             "task_target must return an awaitable, not int")

    def test_no_daemon_or_terminate_parameter(self):
        cls = asyncio.threading.BackgroundThread
        with self.assertRaises(TypeError):
            cls(daemon=True)
        with self.assertRaises(TypeError):
            cls(terminate=print)
        thread = cls()
        self.assertFalse(thread.daemon)
        with self.assertRaisesRegex(RuntimeError,
                                    'cannot be a daemon thread'):
            thread.daemon = True
        thread.daemon = False
        self.assertFalse(thread.daemon)
        thread = self.start()
        # As for Thread.
        with self.assertRaisesRegex(RuntimeError,
                                    '^cannot set daemon status of active '
                                    'thread$'):
            thread.daemon = False

        class NotInitialized(cls):
            def __init__(self):
                pass

        with self.assertRaisesRegex(RuntimeError,
                                    r'^Thread.__init__\(\) not called$'):
            NotInitialized().daemon = False
        if __debug__:
            with self.assertRaisesRegex(AssertionError, 'not called'):
                NotInitialized().daemon

    def test_not_a_daemon_when_started_from_daemon_thread(self):
        threads = []
        creator = threading.Thread(
            target=lambda: threads.append(asyncio.threading.BackgroundThread()),
            daemon=True)
        creator.start()
        threading_helper.join_thread(creator)
        self.assertFalse(threads[0].daemon)
        self.assertNotIn("daemon", repr(threads[0]))

    def test_loop_factory_and_debug(self):
        created = []

        def loop_factory():
            loop = asyncio.EventLoop()
            created.append(loop)
            return loop

        loops = []

        async def main():
            loops.append(asyncio.get_running_loop())

        thread = self.start(task_target=main, loop_factory=loop_factory,
                            debug=True)
        threading_helper.join_thread(thread)
        self.assertEqual(len(created), 1)
        self.assertIs(loops[0], created[0])
        self.assertTrue(loops[0].get_debug())
        self.assertTrue(loops[0].is_closed())

    def test_run_coroutine_threadsafe(self):
        thread = self.start()

        async def add(a, b):
            await asyncio.sleep(0)
            return (a + b, threading.current_thread())

        future = thread.run_coroutine_threadsafe(add(1, 2))
        self.assertIsInstance(future, concurrent.futures.Future)
        self.assertEqual(future.result(TIMEOUT), (3, thread))

        async def fail():
            raise ZeroDivisionError

        future = thread.run_coroutine_threadsafe(fail())
        with self.assertRaises(ZeroDivisionError):
            future.result(TIMEOUT)

    def test_run_coroutine_threadsafe_before_loop_runs(self):
        release = threading.Event()

        def loop_factory():
            release.wait(TIMEOUT)
            return asyncio.new_event_loop()

        thread = self.start(loop_factory=loop_factory)

        async def value():
            return 42

        future = thread.run_coroutine_threadsafe(value())
        self.assertFalse(future.done())
        release.set()
        self.assertEqual(future.result(TIMEOUT), 42)

    def test_run_coroutine_threadsafe_context(self):
        # Each call runs in a copy of its caller's context, as with
        # asyncio.run_coroutine_threadsafe(), also one made before the
        # loop runs.
        var = contextvars.ContextVar('var', default='unset')
        release = threading.Event()

        def loop_factory():
            release.wait(TIMEOUT)
            return asyncio.new_event_loop()

        async def swap(value):
            old = var.get()
            var.set(value)
            return old

        def calls():
            thread = self.start(loop_factory=loop_factory)
            var.set('caller')
            early = thread.run_coroutine_threadsafe(swap('early'))
            release.set()
            self.assertEqual(early.result(TIMEOUT), 'caller')
            late = thread.run_coroutine_threadsafe(swap('late'))
            self.assertEqual(late.result(TIMEOUT), 'caller')
            self.assertEqual(var.get(), 'caller')

        contextvars.copy_context().run(calls)

    def test_run_coroutine_threadsafe_requires_coroutine(self):
        thread = self.start()
        with self.assertRaisesRegex(
                TypeError, '^coro must be a coroutine object, not function$'):
            thread.run_coroutine_threadsafe(asyncio.sleep)

    def check_refused(self, thread, message):
        coro = asyncio.sleep(0)
        with self.assertRaisesRegex(RuntimeError, message):
            thread.run_coroutine_threadsafe(coro)
        # Closed, so that there is no "never awaited" warning.
        self.assertEqual(inspect.getcoroutinestate(coro), 'CORO_CLOSED')

    def test_run_coroutine_threadsafe_not_started(self):
        thread = asyncio.threading.BackgroundThread()
        self.check_refused(thread, 'is not started')

    def test_run_coroutine_threadsafe_after_terminate(self):
        thread = self.start()
        thread.terminate()
        self.check_refused(thread, 'is terminated')
        threading_helper.join_thread(thread)
        self.check_refused(thread, 'is terminated')

    def test_run_coroutine_threadsafe_after_task_returned(self):
        async def main():
            pass

        thread = self.start(task_target=main)
        threading_helper.join_thread(thread)
        self.check_refused(thread, 'is terminated')

    def test_dropped_future_still_terminated(self):
        # A call whose future the caller dropped is not garbage collected
        # while pending: it is cancelled by terminate(), with its cleanup.
        started = threading.Event()
        cleanup = []

        async def call():
            started.set()
            try:
                await asyncio.get_running_loop().create_future()
            finally:
                await asyncio.sleep(0)
                cleanup.append("finally")

        thread = self.start()
        thread.run_coroutine_threadsafe(call())
        self.assertTrue(started.wait(TIMEOUT))
        support.gc_collect()
        thread.terminate()
        threading_helper.join_thread(thread)
        self.assertEqual(cleanup, ["finally"])

    def test_pending_futures_cancelled_on_terminate(self):
        thread = self.start()
        started = threading.Event()
        cleanup = []
        future = thread.run_coroutine_threadsafe(
            wait_forever(started, cleanup))
        self.assertTrue(started.wait(TIMEOUT))
        thread.terminate()
        with self.assertRaises(concurrent.futures.CancelledError):
            future.result(TIMEOUT)
        threading_helper.join_thread(thread)
        self.assertEqual(cleanup, ["finally"])

    def test_cancelled_future_cancels_task(self):
        # Cancelling the future of a call cancels its task, whose cleanup
        # runs.
        thread = self.start()
        started = threading.Event()
        cleanup = []
        future = thread.run_coroutine_threadsafe(
            wait_forever(started, cleanup))
        self.assertTrue(started.wait(TIMEOUT))
        self.assertTrue(future.cancel())
        thread.run_coroutine_threadsafe(asyncio.sleep(0)).result(TIMEOUT)
        for _ in support.sleeping_retry(TIMEOUT):
            if cleanup:
                break
        self.assertEqual(cleanup, ["finally"])

    def test_terminate_again_does_not_interrupt_cleanup(self):
        # The task is cancelled once: a second terminate() call does not
        # cancel its cleanup in turn.
        cleanup_started = threading.Event()
        loops = []
        proceed = asyncio.Event()
        cleanup = []

        running = threading.Event()

        async def main():
            loops.append(asyncio.get_running_loop())
            running.set()
            try:
                await asyncio.Event().wait()
            finally:
                cleanup_started.set()
                await proceed.wait()
                cleanup.append("finally")

        thread = self.start(task_target=main)
        self.assertTrue(running.wait(TIMEOUT))
        thread.terminate()
        self.assertTrue(cleanup_started.wait(TIMEOUT))
        thread.terminate()
        loops[0].call_soon_threadsafe(proceed.set)
        threading_helper.join_thread(thread)
        self.assertEqual(cleanup, ["finally"])

    def test_loop_closing_while_called(self):
        # The task returns and the loop closes while terminate() or
        # run_coroutine_threadsafe() hands it a callback: terminate() has
        # nothing left to do, and the call's future is cancelled.
        for method in ["terminate", "run_coroutine_threadsafe"]:
            with self.subTest(method=method):
                closed = threading.Event()

                class Loop(asyncio.EventLoop):
                    hold = False

                    def call_soon_threadsafe(self, *args, **kwargs):
                        if self.hold:
                            self.hold = False
                            super().call_soon_threadsafe(endings[0].set)
                            closed.wait(TIMEOUT)
                        return super().call_soon_threadsafe(*args, **kwargs)

                    def close(self):
                        super().close()
                        closed.set()

                loops = []
                endings = []
                running = threading.Event()

                async def main():
                    loops.append(asyncio.get_running_loop())
                    endings.append(asyncio.Event())
                    running.set()
                    await endings[0].wait()

                thread = self.start(task_target=main, loop_factory=Loop)
                self.assertTrue(running.wait(TIMEOUT))
                loops[0].hold = True
                if method == "terminate":
                    thread.terminate()
                else:
                    future = thread.run_coroutine_threadsafe(
                        asyncio.sleep(0))
                    with self.assertRaises(concurrent.futures.CancelledError):
                        future.result(TIMEOUT)
                self.assertTrue(closed.is_set())
                threading_helper.join_thread(thread)

    def test_call_arriving_after_task_returned_is_cancelled(self):
        # A call accepted while the task runs but reaching the loop after it
        # returned, here while the runner shuts the loop down, never starts:
        # the loop is closing.
        class Loop(asyncio.EventLoop):
            delay = False
            delayed = None

            def call_soon_threadsafe(self, *args, **kwargs):
                if self.delay:
                    self.delay = False
                    self.delayed = args
                    return None
                return super().call_soon_threadsafe(*args, **kwargs)

            async def shutdown_default_executor(self, *args, **kwargs):
                if self.delayed:
                    super().call_soon_threadsafe(*self.delayed)
                await super().shutdown_default_executor(*args, **kwargs)

        futures = []
        ran = []

        async def call():
            ran.append(True)

        async def main():
            asyncio.get_running_loop().delay = True
            futures.append(threading.current_thread()
                           .run_coroutine_threadsafe(call()))

        thread = self.start(task_target=main, loop_factory=Loop)
        threading_helper.join_thread(thread)
        with self.assertRaises(concurrent.futures.CancelledError):
            futures[0].result(TIMEOUT)
        self.assertEqual(ran, [])

    def test_call_before_loop_runs_cancelled_if_terminated(self):
        # Terminated after the call was accepted but before the loop runs:
        # the call never runs and its future is cancelled.
        creating = threading.Event()
        release = threading.Event()

        def loop_factory():
            creating.set()
            release.wait(TIMEOUT)
            return asyncio.EventLoop()

        thread = self.start(loop_factory=loop_factory)
        self.assertTrue(creating.wait(TIMEOUT))
        ran = []

        async def call():
            ran.append(True)

        future = thread.run_coroutine_threadsafe(call())
        thread.terminate()
        release.set()
        with self.assertRaises(concurrent.futures.CancelledError):
            future.result(TIMEOUT)
        threading_helper.join_thread(thread)
        self.assertEqual(ran, [])

    def test_terminate_interrupted_is_completed_by_next_call(self):
        # Ctrl-C landing in terminate() after the state changed but before
        # the request reached the loop: the next terminate() completes it.
        class Loop(asyncio.EventLoop):
            interrupt = False

            def call_soon_threadsafe(self, *args, **kwargs):
                if self.interrupt:
                    self.interrupt = False
                    raise KeyboardInterrupt
                return super().call_soon_threadsafe(*args, **kwargs)

        loops = []

        def loop_factory():
            loops.append(Loop())
            return loops[0]

        started = threading.Event()
        cleanup = []
        thread = self.start(task_target=wait_forever,
                            args=(started, cleanup),
                            loop_factory=loop_factory)
        self.assertTrue(started.wait(TIMEOUT))
        loops[0].interrupt = True
        with self.assertRaises(KeyboardInterrupt):
            thread.terminate()
        thread.terminate()
        threading_helper.join_thread(thread)
        self.assertEqual(cleanup, ["finally"])

    @support.requires_fork()
    def test_fork_child_refuses_calls(self):
        # In a child process the thread does not run: calls are refused at
        # once instead of never completing.
        # A thread created but not started before the fork works in the
        # child, where it accepts calls before its loop runs.
        creating = threading.Event()
        release = threading.Event()

        def loop_factory():
            creating.set()
            release.wait(TIMEOUT)
            return asyncio.EventLoop()

        unstarted = asyncio.threading.BackgroundThread(
            loop_factory=loop_factory)
        thread = self.start()
        thread.run_coroutine_threadsafe(asyncio.sleep(0)).result(TIMEOUT)
        # Its loop does not run yet when the process forks.
        unblock = threading.Event()

        def blocked_loop_factory():
            unblock.wait(TIMEOUT)
            return asyncio.EventLoop()

        blocked = self.start(loop_factory=blocked_loop_factory)
        self.addCleanup(unblock.set)
        with warnings.catch_warnings():
            # The child does not run the other threads of the parent.
            warnings.simplefilter('ignore', DeprecationWarning)
            pid = os.fork()
        if pid == 0:
            status = 1
            try:
                try:
                    thread.run_coroutine_threadsafe(asyncio.sleep(0))
                except RuntimeError:
                    thread.terminate()
                    try:
                        blocked.get_loop()
                    except RuntimeError:
                        pass
                    else:
                        raise AssertionError("get_loop() returned")
                    unstarted.start()
                    creating.wait(TIMEOUT)
                    future = unstarted.run_coroutine_threadsafe(
                        asyncio.sleep(0, "child"))
                    release.set()
                    if future.result(TIMEOUT) == "child":
                        status = 0
                    unstarted.terminate()
                    unstarted.join()
            finally:
                os._exit(status)
        support.wait_process(pid, exitcode=0)


@support.requires_subprocess()
class BackgroundThreadExitTests(unittest.TestCase):
    """BackgroundThread at interpreter exit."""

    def run_script(self, script, *args):
        # A hang at exit fails the test instead of hanging it.
        script = self.script(script)
        rc, out, err = assert_python_ok(*args, '-c', script)
        return out.decode().splitlines(), err.decode()

    @staticmethod
    def script(script):
        script = ('import faulthandler; '
                  'faulthandler.dump_traceback_later(TIMEOUT, exit=True)\n'
                  + textwrap.dedent(script))
        # Not threading._EXIT_TIMEOUT.
        return re.sub(r'\bTIMEOUT\b', repr(TIMEOUT), script)

    def line_of(self, script, marker):
        # The line of the script run by run_script() that holds *marker*.
        lines = self.script(script).splitlines()
        [number] = [i for i, line in enumerate(lines, 1) if marker in line]
        return number

    def test_unterminated_thread_exits_with_cleanup(self):
        out, err = self.run_script("""
            import asyncio
            import asyncio.threading
            import threading

            started = threading.Event()

            async def main():
                started.set()
                try:
                    await asyncio.sleep(TIMEOUT)
                    print("timed out")
                except asyncio.CancelledError:
                    print("cancelled")
                    raise
                finally:
                    await asyncio.sleep(0)
                    print("cleanup")

            asyncio.threading.BackgroundThread(task_target=main).start()
            started.wait()
            print("end of main")
        """)
        self.assertEqual(out, ["end of main", "cancelled", "cleanup"])
        self.assertEqual(err, "")

    def test_many_threads_exit(self):
        out, err = self.run_script("""
            import asyncio
            import asyncio.threading
            import threading

            cleaned = []
            lock = threading.Lock()
            running = threading.Semaphore(0)

            async def main(i):
                running.release()
                try:
                    await asyncio.Event().wait()
                finally:
                    with lock:
                        cleaned.append(i)

            threads = [asyncio.threading.BackgroundThread(task_target=main,
                                                          args=(i,))
                       for i in range(50)]
            for thread in threads:
                thread.start()
            # Tasks terminated before they start never run (and have no
            # cleanup): wait until all of them run.
            for thread in threads:
                running.acquire()
            import atexit
            atexit.register(lambda: print(sorted(cleaned) == list(range(50))))
        """)
        self.assertEqual(out, ["True"])
        self.assertEqual(err, "")

    def test_portal_without_task_exits(self):
        out, err = self.run_script("""
            import asyncio.threading

            async def hello():
                return "hello"

            portal = asyncio.threading.BackgroundThread()
            portal.start()
            print(portal.run_coroutine_threadsafe(hello()).result())
        """)
        self.assertEqual(out, ["hello"])
        self.assertEqual(err, "")

    def test_terminated_before_exit_cleanup_uses_to_thread(self):
        # Terminated before exit, a BackgroundThread no longer serves: exit
        # waits for its cleanup before executors shut down.
        out, err = self.run_script("""
            import asyncio
            import asyncio.threading
            import threading

            started = threading.Event()

            async def main():
                started.set()
                try:
                    await asyncio.Event().wait()
                finally:
                    await asyncio.sleep(0.1)
                    print(await asyncio.to_thread(pow, 2, 10))

            thread = asyncio.threading.BackgroundThread(task_target=main)
            thread.start()
            started.wait()
            thread.terminate()
        """)
        self.assertEqual(out, ["1024"])
        self.assertEqual(err, "")

    def test_cleanup_cannot_use_to_thread(self):
        # At exit a BackgroundThread is asked once executors have shut down
        # (their jobs may use it): its cleanup cannot submit work to them.
        out, err = self.run_script("""
            import asyncio
            import asyncio.threading
            import threading

            started = threading.Event()

            async def main():
                started.set()
                try:
                    await asyncio.Event().wait()
                finally:
                    try:
                        await asyncio.to_thread(pow, 2, 10)
                    except RuntimeError as exc:
                        print(type(exc).__name__)

            asyncio.threading.BackgroundThread(task_target=main).start()
            started.wait()
        """)
        self.assertEqual(out, ["RuntimeError"])
        self.assertEqual(err, "")

    def test_executor_worker_blocked_on_call(self):
        # A worker of an executor is blocked on a call into the thread's
        # loop: at exit the call is cancelled, so the executor can shut down.
        out, err = self.run_script("""
            import asyncio
            import asyncio.threading
            import concurrent.futures
            import threading

            portal = asyncio.threading.BackgroundThread()
            portal.start()
            started = threading.Event()

            async def forever():
                started.set()
                await asyncio.Event().wait()

            def call():
                try:
                    portal.run_coroutine_threadsafe(forever()).result()
                except concurrent.futures.CancelledError:
                    print("call cancelled")

            executor = concurrent.futures.ThreadPoolExecutor(1)
            executor.submit(call)
            started.wait()
        """)
        self.assertEqual(out, ["call cancelled"])
        self.assertEqual(err, "")

    def test_thread_cleanup_uses_portal_started_before(self):
        # The threading docs' worker pattern, whose jobs use a portal: the
        # jobs still queued at exit are served, then the portal stops.
        out, err = self.run_script("""
            import asyncio
            import asyncio.threading
            import queue
            import threading

            async def serve():
                try:
                    await asyncio.Event().wait()
                finally:
                    print("portal stopped")

            portal = asyncio.threading.BackgroundThread(task_target=serve)
            portal.start()

            async def double(n):
                await asyncio.sleep(0)
                return 2 * n

            jobs = queue.Queue()
            exiting = threading.Event()

            def work():
                exiting.wait(TIMEOUT)
                while (n := jobs.get()) is not None:
                    future = portal.run_coroutine_threadsafe(double(n))
                    print(future.result(TIMEOUT))

            def terminate():
                jobs.put(None)
                exiting.set()

            threading.Thread(target=work, terminate=terminate).start()
            for n in range(3):
                jobs.put(n)
        """)
        self.assertEqual(out, ["0", "2", "4", "portal stopped"])
        self.assertEqual(err, "")

    def test_portal_created_during_exit_serves_its_creator(self):
        # A client created lazily by a thread's cleanup during exit serves
        # that cleanup, and is terminated once the thread has ended.
        out, err = self.run_script("""
            import asyncio
            import asyncio.threading
            import threading

            stop = threading.Event()

            async def serve():
                try:
                    await asyncio.Event().wait()
                finally:
                    print("portal stopped")

            async def hello():
                return "served"

            def run():
                stop.wait(TIMEOUT)
                portal = asyncio.threading.BackgroundThread(task_target=serve)
                portal.start()
                print(portal.run_coroutine_threadsafe(hello()).result(TIMEOUT))

            threading.Thread(target=run, terminate=stop.set).start()
        """)
        self.assertEqual(out, ["served", "portal stopped"])
        self.assertEqual(err, "")

    # A portal, and the threads that use it after the main thread returns.
    PORTAL = """
        import asyncio
        import asyncio.threading
        import builtins
        import threading

        portal = asyncio.threading.BackgroundThread(name="portal")
        portal.start()
        print_lock = threading.Lock()

        def print(*args, **kwargs):
            # Whole lines, also without the GIL.
            with print_lock:
                builtins.print(*args, **kwargs)

        async def call(number):
            await asyncio.sleep(0.001)
            return number

        def calls(name, count=20, raw=False):
            served = 0
            for number in range(count):
                coro = call(number)
                if raw:
                    future = asyncio.run_coroutine_threadsafe(
                        coro, portal.get_loop())
                else:
                    future = portal.run_coroutine_threadsafe(coro)
                served += future.result(TIMEOUT) == number
            print(name, served, flush=True)
    """

    def test_portal_serves_threads_outliving_main(self):
        # Plain threads, the cleanups of the threads asked to terminate,
        # and raw submissions to the loop are served until they are done.
        out, err = self.run_script(textwrap.dedent(self.PORTAL) + textwrap.dedent("""
            stop = threading.Event()

            def cleanup():
                stop.wait(TIMEOUT)
                calls("cleanup")

            threading.Thread(target=calls, args=("plain",)).start()
            threading.Thread(target=calls, args=("raw", 20, True)).start()
            threading.Thread(target=cleanup, terminate=stop.set).start()
        """))
        self.assertEqual(sorted(out), ["cleanup 20", "plain 20", "raw 20"])
        self.assertEqual(err, "")

    def test_portal_serves_executor_jobs(self):
        # Work queued in executors at exit is served.
        out, err = self.run_script(textwrap.dedent(self.PORTAL) + textwrap.dedent("""
            from concurrent.futures import ThreadPoolExecutor

            executor = ThreadPoolExecutor(2)
            for n in range(6):
                executor.submit(calls, f"job {n}", 5)
        """))
        self.assertEqual(sorted(out), [f"job {n} 5" for n in range(6)])
        self.assertEqual(err, "")

    def test_portals_created_during_exit_serve_the_cleanups(self):
        # A portal created lazily by the cleanup of a thread serves the
        # cleanups of the others too, also those slower than the first.
        out, err = self.run_script("""
            import asyncio
            import asyncio.threading
            import queue
            import threading

            lock = threading.Lock()
            portal = None

            def get_portal():
                global portal
                with lock:
                    if portal is None:
                        portal = asyncio.threading.BackgroundThread()
                        portal.start()
                return portal

            async def call(number):
                await asyncio.sleep(0.01)
                return number

            def make_worker(name, jobs):
                queue_ = queue.Queue()
                for job in range(jobs):
                    queue_.put(job)

                def work():
                    served = 0
                    while (job := queue_.get()) is not None:
                        future = get_portal().run_coroutine_threadsafe(
                            call(job))
                        served += future.result(TIMEOUT) == job
                    with lock:  # whole lines, also without the GIL
                        print(name, served, flush=True)

                threading.Thread(target=work,
                                 terminate=lambda: queue_.put(None)).start()

            make_worker("fast", 1)
            make_worker("slow", 30)
        """)
        self.assertEqual(out, ["fast 1", "slow 30"])
        self.assertEqual(err, "")

    def test_thread_started_by_atexit_function(self):
        # An atexit function may run a BackgroundThread to its end.
        out, err = self.run_script("""
            import asyncio
            import asyncio.threading
            import atexit

            async def main():
                await asyncio.sleep(0)
                print("work done")

            def run():
                thread = asyncio.threading.BackgroundThread(task_target=main)
                thread.start()
                thread.join()

            atexit.register(run)
            asyncio.threading.BackgroundThread().start()
        """)
        self.assertEqual(out, ["work done"])
        self.assertEqual(err, "")

    def test_get_loop_waits_without_shared_lock(self):
        # A signal handler may interrupt get_loop() at any point, also where
        # threading.Event.wait() holds its lock, and terminate and join the
        # thread, which must not need that lock to end.
        out, err = self.run_script("""
            import asyncio
            import asyncio.threading
            import signal
            import sys
            import threading

            release = threading.Event()

            def loop_factory():
                release.wait(TIMEOUT)
                return asyncio.EventLoop()

            portal = asyncio.threading.BackgroundThread(
                loop_factory=loop_factory)
            portal.start()

            def handler(*args):
                portal.terminate()
                release.set()
                portal.join(TIMEOUT)
                print("joined" if not portal.is_alive() else "join timed out")

            lines = 0

            def trace(frame, event, arg):
                # The second line of the wait that get_loop() calls.
                global lines
                if frame.f_back.f_code is not portal.get_loop.__code__:
                    return None
                if event == "line":
                    lines += 1
                    if lines == 2:
                        signal.raise_signal(signal.SIGUSR1)
                return trace

            signal.signal(signal.SIGUSR1, handler)
            sys.settrace(trace)
            try:
                portal.get_loop()
            except RuntimeError as exc:
                sys.settrace(None)
                print(exc)
        """)
        self.assertEqual(len(out), 2, out)
        self.assertEqual(out[0], "joined")
        self.assertRegex(out[1], 'loop .* is not running')
        self.assertEqual(err, "")

    def test_terminate_from_signal_handler(self):
        # A signal handler runs between any two bytecodes of the main thread,
        # here while it submits calls, and terminates the thread.
        out, err = self.run_script("""
            import asyncio
            import asyncio.threading
            import signal

            async def noop():
                pass

            portal = asyncio.threading.BackgroundThread()
            portal.start()
            handled = 0

            def handler(*args):
                # Without waiting for the result: a handler must not block,
                # the code it interrupts may hold a lock that the loop needs
                # (a future's, if it was waiting for one).
                global handled
                handled += 1
                if handled < 100:
                    try:
                        portal.run_coroutine_threadsafe(noop())
                    except RuntimeError:
                        pass  # terminated by a handler that interrupted this one
                else:
                    portal.terminate()

            signal.signal(signal.SIGALRM, handler)
            signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)
            try:
                while True:
                    portal.run_coroutine_threadsafe(noop())
            except RuntimeError:
                pass
            signal.setitimer(signal.ITIMER_REAL, 0)
            portal.join()
            print("terminated")
        """)
        self.assertEqual(out, ["terminated"])
        self.assertEqual(err, "")

    def test_terminate_from_finalizer(self):
        # A finalizer (here run when the loop drops an object, as the garbage
        # collector may run one at any allocation) terminates the thread in
        # the middle of a call from the same thread, and of another
        # terminate() call.
        out, err = self.run_script("""
            import asyncio
            import asyncio.threading

            class Client:
                def __del__(self):
                    print("finalizer")
                    portal.terminate()
                    try:
                        portal.run_coroutine_threadsafe(noop())
                    except RuntimeError:
                        print("refused")

            class Loop(asyncio.EventLoop):
                garbage = None

                def call_soon_threadsafe(self, *args, **kwargs):
                    self.garbage = None
                    return super().call_soon_threadsafe(*args, **kwargs)

            async def noop():
                pass

            loops = []

            def loop_factory():
                loops.append(Loop())
                return loops[0]

            portal = asyncio.threading.BackgroundThread(
                loop_factory=loop_factory)
            portal.start()
            portal.run_coroutine_threadsafe(noop()).result()
            loops[0].garbage = Client()
            future = portal.run_coroutine_threadsafe(noop())
            print("submitted")
            portal.join()
            # Accepted before the termination: run or cancelled.
            print("done" if future.done() else "pending")
        """)
        self.assertEqual(out, ["finalizer", "refused", "submitted", "done"])
        self.assertEqual(err, "")

    def test_keyboard_interrupt_in_terminate_at_exit(self):
        # Ctrl-C inside the exit's terminate() call, before the request
        # reached the loop: the request is made again, so that a thread
        # waiting for a call is released.
        out, err = self.run_script("""
            import asyncio
            import asyncio.threading
            import concurrent.futures
            import threading

            threading._EXIT_TIMEOUT = 0.5

            class Loop(asyncio.EventLoop):
                interrupt = False

                def call_soon_threadsafe(self, *args, **kwargs):
                    if self.interrupt:
                        self.interrupt = False
                        raise KeyboardInterrupt
                    return super().call_soon_threadsafe(*args, **kwargs)

            portal = asyncio.threading.BackgroundThread(loop_factory=Loop)
            portal.start()

            async def forever():
                await asyncio.Event().wait()

            import atexit
            submitted = threading.Event()
            released = threading.Event()

            def wait_for_call():
                future = portal.run_coroutine_threadsafe(forever())
                submitted.set()
                try:
                    future.result()
                except concurrent.futures.CancelledError:
                    released.set()

            # After Ctrl-C, exit does not wait for the threads: atexit does.
            atexit.register(lambda: released.wait(TIMEOUT)
                            and print("worker released"))

            threading.Thread(target=wait_for_call).start()
            submitted.wait()
            portal.run_coroutine_threadsafe(asyncio.sleep(0)).result()
            portal.get_loop().interrupt = True
        """)
        self.assertEqual(out, ["worker released"])
        self.assertTrue(err.endswith("\nKeyboardInterrupt: \n"), err)

    @support.cpython_only
    def test_destroyed_subinterpreter(self):
        # Destroying a subinterpreter terminates its BackgroundThread, whose
        # cleanup runs.  In a child process: on 3.13, an event loop woken
        # from another thread in a subinterpreter leaks references when the
        # interpreter is destroyed, with or without BackgroundThread.
        import_helper.import_module('_interpreters')
        out, err = self.run_script("""
            import _interpreters
            import os
            import textwrap

            r, w = os.pipe()
            interp = _interpreters.create()
            try:
                excinfo = _interpreters.run_string(interp, textwrap.dedent(f'''
                    import asyncio
                    import asyncio.threading
                    import os

                    async def main():
                        try:
                            os.write({w}, b"started ")
                            await asyncio.Event().wait()
                        finally:
                            await asyncio.sleep(0)
                            os.write({w}, b"cleanup")

                    asyncio.threading.BackgroundThread(main).start()
                '''))
                print(excinfo)
                print(os.read(r, 8).decode())
            finally:
                _interpreters.destroy(interp)
            print(os.read(r, 100).decode())
        """)
        self.assertEqual(out, ["None", "started ", "cleanup"])
        self.assertEqual(err, "")

    def test_recipe_sync_client(self):
        # The recipe of the documentation: a synchronous client which the
        # user forgets to close.
        path = os.path.join(os.path.dirname(__file__), '..', '..', '..',
                            'Doc', 'includes', 'asyncio_sync_client.py')
        if not os.path.exists(path):
            self.skipTest("needs the source tree's Doc/includes")
        with open(path, encoding='utf-8') as f:
            recipe = f.read()
        out, err = self.run_script(recipe + textwrap.dedent("""
            async def handle(reader, writer):
                while line := await reader.readline():
                    writer.write(line.upper())
                writer.close()
                await writer.wait_closed()
                print("server: connection closed")

            async def serve(ready):
                server = await asyncio.start_server(handle, "127.0.0.1", 0)
                ready.put(server.sockets[0].getsockname()[1])
                async with server:
                    await server.serve_forever()

            import queue
            ready = queue.Queue()
            server_thread = asyncio.threading.BackgroundThread(
                task_target=serve, args=(ready,))
            server_thread.start()
            client = EchoClient("127.0.0.1", ready.get(timeout=TIMEOUT))
            print(client.echo("hello"))
            # No client.close(): the interpreter closes the connection at
            # exit.
        """))
        self.assertEqual(out[0], "HELLO")
        self.assertIn("server: connection closed", out)
        self.assertEqual(err, "")


if __name__ == '__main__':
    unittest.main()
