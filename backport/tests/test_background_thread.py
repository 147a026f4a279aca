"""BackgroundThread: the scenarios of test_asyncio.test_threading, on
thread_terminate.BackgroundThread."""

import asyncio
import concurrent.futures
import contextvars
import inspect
import os
import sys
import textwrap
import threading
import time
import unittest
import warnings
import weakref

import support
import thread_terminate
from support import (TIMEOUT, catch_threading_exception, join_thread,
                     requires_fork, requires_threads_at_exit, run_script)

BackgroundThread = thread_terminate.BackgroundThread
# asyncio.EventLoop is new in 3.13.
EventLoop = getattr(asyncio, 'EventLoop', asyncio.SelectorEventLoop)

# BackgroundThread holds its lock only where signal handlers cannot run
# from 3.10 on (no call and no loop in between).
requires_handlers_outside_lock = unittest.skipIf(
    sys.version_info < (3, 10),
    "Python 3.9 runs signal handlers between any two bytecodes, also while "
    "BackgroundThread's lock is held: terminate() or "
    "run_coroutine_threadsafe() from a handler can deadlock there")


def tearDownModule():
    asyncio.set_event_loop_policy(None)


async def wait_forever(started, cleanup):
    """Set *started*, then wait until cancelled; record the cleanup."""
    started.set()
    try:
        await asyncio.Event().wait()
    finally:
        await asyncio.sleep(0)  # the loop is still open
        cleanup.append("finally")


class BackgroundThreadTests(support.ThreadsCleanupMixin, unittest.TestCase):

    def start(self, *args, **kwargs):
        thread = BackgroundThread(*args, **kwargs)
        thread.start()
        self.addCleanup(self.stop, thread)
        return thread

    def stop(self, thread):
        thread.terminate()
        join_thread(thread)

    def test_task_returns(self):
        results = []

        async def main(*args, **kwargs):
            await asyncio.sleep(0)
            results.append((args, kwargs))

        thread = self.start(task_target=main, args=(1, 2), kwargs={'a': 3})
        join_thread(thread)
        self.assertEqual(results, [((1, 2), {'a': 3})])
        self.assertFalse(thread.is_alive())

    def test_default_name(self):
        async def main():
            pass

        thread = BackgroundThread(task_target=main)
        if sys.version_info >= (3, 10):
            self.assertRegex(thread.name, r'^Thread-\d+ \(main\)$')
        else:  # Thread names got the target's name in 3.10
            self.assertRegex(thread.name, r'^Thread-\d+$')
        thread = BackgroundThread(name='portal')
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

        with catch_threading_exception() as cm:
            thread = self.start(task_target=main)
            self.assertTrue(started.wait(TIMEOUT))
            self.assertTrue(thread.is_alive())
            thread.terminate()
            join_thread(thread)
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
        join_thread(thread)
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
            join_thread(thread)
            self.assertEqual([ref() for ref in refs], [None, None])

    def test___terminate___calls_terminate(self):
        calls = []

        class Thread(BackgroundThread):
            def terminate(self):
                calls.append("terminate")
                super().terminate()

        thread = Thread()
        thread.start()
        thread.__terminate__()
        join_thread(thread)
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
        # asyncio.run_coroutine_threadsafe().
        self.assertEqual(len(handled), 1)
        self.assertIsInstance(handled[0]['exception'], ZeroDivisionError)

    def test_terminate_before_start(self):
        calls = []

        async def main():
            calls.append("main")

        thread = BackgroundThread(task_target=main)
        thread.terminate()
        thread.start()
        join_thread(thread)
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
        join_thread(thread)
        self.assertEqual(calls, [])

    def test_terminate_from_loop_thread(self):
        cleanup = []

        async def main():
            thread.terminate()
            try:
                await asyncio.sleep(TIMEOUT)
            finally:
                cleanup.append("finally")

        thread = BackgroundThread(task_target=main)
        thread.start()
        join_thread(thread)
        self.assertEqual(cleanup, ["finally"])

    def test_task_exception_propagates(self):
        async def main():
            await asyncio.sleep(0)
            raise ValueError("boom")

        with catch_threading_exception() as cm:
            thread = self.start(task_target=main, name="failing")
            join_thread(thread)
            self.assertIs(cm.exc_type, ValueError)
            self.assertEqual(str(cm.exc_value), "boom")
            self.assertIs(cm.thread, thread)

    def test_cancellation_not_by_terminate_propagates(self):
        async def main():
            asyncio.current_task().cancel()
            await asyncio.sleep(0)

        with catch_threading_exception() as cm:
            thread = self.start(task_target=main)
            join_thread(thread)
            self.assertIs(cm.exc_type, asyncio.CancelledError)

    def test_task_target_must_be_callable(self):
        with self.assertRaisesRegex(TypeError,
                                    r'^task_target must be callable or None$'):
            BackgroundThread(task_target=42)

    def test_loop_factory_must_be_callable(self):
        with self.assertRaisesRegex(
                TypeError, r'^loop_factory must be callable or None$'):
            BackgroundThread(loop_factory=42)

    def test_task_target_must_return_awaitable(self):
        with catch_threading_exception() as cm:
            thread = self.start(task_target=lambda: 42)
            join_thread(thread)
            self.assertIs(cm.exc_type, TypeError)
            self.assertEqual(str(cm.exc_value),
                             "task_target must return an awaitable, not int")

    def test_no_daemon_or_terminate_parameter(self):
        cls = BackgroundThread
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
            target=lambda: threads.append(BackgroundThread()),
            daemon=True)
        creator.start()
        join_thread(creator)
        self.assertFalse(threads[0].daemon)
        self.assertNotIn("daemon", repr(threads[0]))

    def test_loop_factory_and_debug(self):
        created = []

        def loop_factory():
            loop = EventLoop()
            created.append(loop)
            return loop

        loops = []

        async def main():
            loops.append(asyncio.get_running_loop())

        thread = self.start(task_target=main, loop_factory=loop_factory,
                            debug=True)
        join_thread(thread)
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
        thread = BackgroundThread()
        self.check_refused(thread, 'is not started')

    def test_run_coroutine_threadsafe_after_terminate(self):
        thread = self.start()
        thread.terminate()
        self.check_refused(thread, 'is terminated')
        join_thread(thread)
        self.check_refused(thread, 'is terminated')

    def test_run_coroutine_threadsafe_after_task_returned(self):
        async def main():
            pass

        thread = self.start(task_target=main)
        join_thread(thread)
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
        join_thread(thread)
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
        join_thread(thread)
        self.assertEqual(cleanup, ["finally"])

    def test_task_factory_failure_before_loop_runs(self):
        creating = threading.Event()
        release = threading.Event()
        handled = []

        def loop_factory():
            creating.set()
            release.wait(TIMEOUT)
            loop = EventLoop()
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
        # The loop still runs.
        self.assertIsNotNone(thread.get_loop())
        self.assertEqual(len(handled), 1)
        self.assertIsInstance(handled[0]['exception'], ZeroDivisionError)

    def test_task_target_positional(self):
        # The natural call runs the coroutine function; the other parameters
        # are keyword-only.
        results = []

        async def main(*args):
            results.append(args)

        thread = self.start(main, args=(1, 2))
        join_thread(thread)
        self.assertEqual(results, [(1, 2)])
        with self.assertRaises(TypeError):
            BackgroundThread(main, "name")

    def test_task_target_coroutine_object(self):
        async def main():
            pass

        coro = main()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            with self.assertRaisesRegex(TypeError, r'not a coroutine object: '
                                        r'pass main, not main\(\)$'):
                BackgroundThread(coro)
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
            BackgroundThread(agen)

    def test_context_manager(self):
        # Entering starts the thread, leaving terminates and joins it, also
        # when the block raises, whose exception goes on.
        started = threading.Event()
        cleanup = []
        with BackgroundThread(
                wait_forever, args=(started, cleanup)) as thread:
            self.assertIsInstance(thread, BackgroundThread)
            self.assertTrue(started.wait(TIMEOUT))
            # Leaving does not wait for pending calls: they are cancelled.
            # (The event is created in the loop: 3.9 binds it to a loop.)
            pending = thread.run_coroutine_threadsafe(wait_forever(
                threading.Event(), []))
        self.assertFalse(thread.is_alive())
        self.assertEqual(cleanup, ["finally"])
        self.assertTrue(pending.cancelled())

        with self.assertRaises(ZeroDivisionError):
            with BackgroundThread() as thread:
                self.assertEqual(thread.run_coroutine_threadsafe(
                    asyncio.sleep(0, 42)).result(TIMEOUT), 42)
                1 / 0
        self.assertFalse(thread.is_alive())

    def test_get_loop(self):
        thread = BackgroundThread()
        with self.assertRaisesRegex(RuntimeError, 'is not started'):
            thread.get_loop()
        loops = []

        async def main():
            loops.append(asyncio.get_running_loop())

        with BackgroundThread() as thread:
            loop = thread.get_loop()
            self.assertTrue(loop.is_running())
            future = asyncio.run_coroutine_threadsafe(main(), loop)
            future.result(TIMEOUT)
            self.assertIs(loops[0], loop)
        with self.assertRaisesRegex(RuntimeError, 'loop .* is not running'):
            thread.get_loop()

    def test_get_loop_terminated_before_loop_runs(self):
        thread = BackgroundThread()
        thread.terminate()
        thread.start()
        with self.assertRaisesRegex(RuntimeError, 'loop .* is not running'):
            thread.get_loop()
        join_thread(thread)

    def test_get_loop_loop_factory_fails(self):
        def loop_factory():
            raise ZeroDivisionError

        with catch_threading_exception() as cm:
            thread = BackgroundThread(loop_factory=loop_factory)
            thread.start()
            with self.assertRaisesRegex(RuntimeError,
                                        'loop .* is not running'):
                thread.get_loop()
            join_thread(thread)
            self.assertIs(cm.exc_type, ZeroDivisionError)

    def test_loop_closing_while_called(self):
        # The task returns and the loop closes while terminate() or
        # run_coroutine_threadsafe() hands it a callback: terminate() has
        # nothing left to do, and the call's future is cancelled.
        for method in ["terminate", "run_coroutine_threadsafe"]:
            with self.subTest(method=method):
                closed = threading.Event()

                class Loop(EventLoop):
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
                join_thread(thread)

    def test_terminate_again_does_not_interrupt_cleanup(self):
        # The task is cancelled once: a second terminate() call does not
        # cancel its cleanup in turn.
        cleanup_started = threading.Event()
        loops = []
        # Created in the loop: before 3.10, asyncio.Event() binds the loop
        # of the thread that creates it.
        proceeds = []
        cleanup = []

        running = threading.Event()

        async def main():
            loops.append(asyncio.get_running_loop())
            proceeds.append(asyncio.Event())
            running.set()
            try:
                await asyncio.Event().wait()
            finally:
                cleanup_started.set()
                await proceeds[0].wait()
                cleanup.append("finally")

        thread = self.start(task_target=main)
        self.assertTrue(running.wait(TIMEOUT))
        thread.terminate()
        self.assertTrue(cleanup_started.wait(TIMEOUT))
        thread.terminate()
        loops[0].call_soon_threadsafe(proceeds[0].set)
        join_thread(thread)
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
        deadline = time.monotonic() + TIMEOUT
        while not cleanup and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(cleanup, ["finally"])

    def test_call_arriving_after_task_returned_is_cancelled(self):
        # A call accepted while the task runs but reaching the loop after it
        # returned never starts: the loop is closing.
        futures = []
        ran = []

        async def call():
            ran.append(True)

        async def main():
            futures.append(thread.run_coroutine_threadsafe(call()))

        # Bound before it starts: main() may run before start() returns.
        thread = BackgroundThread(task_target=main)
        self.addCleanup(self.stop, thread)
        thread.start()
        join_thread(thread)
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
            return EventLoop()

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
        join_thread(thread)
        self.assertEqual(ran, [])

    def test_terminate_interrupted_is_completed_by_next_call(self):
        # Ctrl-C landing in terminate() after the state changed but before
        # the request reached the loop: the next terminate() completes it.
        class Loop(EventLoop):
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
        join_thread(thread)
        self.assertEqual(cleanup, ["finally"])

    @requires_fork
    def test_fork_child_refuses_calls(self):
        # In a child process the thread does not run: calls are refused at
        # once instead of never completing.
        thread = self.start()
        thread.run_coroutine_threadsafe(asyncio.sleep(0)).result(TIMEOUT)
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
                    status = 0
            finally:
                os._exit(status)
        self.assertEqual(os.waitpid(pid, 0)[1], 0)


class BackgroundThreadExitTests(unittest.TestCase):
    """BackgroundThread at interpreter exit."""

    def run_script(self, script, **kwargs):
        # A hang at exit fails the test instead of hanging it.
        return run_script(script, **kwargs)

    def test_unterminated_thread_exits_with_cleanup(self):
        out, err = self.run_script("""
            import asyncio
            from thread_terminate import BackgroundThread
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

            BackgroundThread(task_target=main).start()
            started.wait()
            print("end of main")
        """)
        self.assertEqual(out, ["end of main", "cancelled", "cleanup"])
        self.assertEqual(err, "")

    def test_many_threads_exit(self):
        out, err = self.run_script("""
            import asyncio
            from thread_terminate import BackgroundThread
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

            threads = [BackgroundThread(task_target=main,
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
            from thread_terminate import BackgroundThread

            async def hello():
                return "hello"

            portal = BackgroundThread()
            portal.start()
            print(portal.run_coroutine_threadsafe(hello()).result())
        """)
        self.assertEqual(out, ["hello"])
        self.assertEqual(err, "")

    @requires_threads_at_exit
    def test_terminated_thread_cleanup_uses_to_thread(self):
        # The cleanup of a thread asked with the other non-services runs
        # before the executors shut down: it may use asyncio.to_thread().
        out, err = self.run_script("""
            import asyncio
            import threading
            import thread_terminate

            running = threading.Event()
            state = {}

            async def main():
                state["loop"] = asyncio.get_running_loop()
                state["stop"] = asyncio.Event()
                running.set()
                try:
                    await state["stop"].wait()
                finally:
                    print(await asyncio.to_thread(pow, 2, 10))

            def terminate():
                state["loop"].call_soon_threadsafe(state["stop"].set)

            thread_terminate.Thread(target=asyncio.run, args=(main(),),
                                    terminate=terminate).start()
            running.wait()
        """)
        self.assertEqual(out, ["1024"])
        self.assertEqual(err, "")

    @requires_threads_at_exit
    def test_terminated_before_exit_cleanup_uses_to_thread(self):
        # Terminated before exit, a BackgroundThread no longer serves: exit
        # waits for its cleanup before executors shut down, so the cleanup
        # may use asyncio.to_thread().
        out, err = self.run_script("""
            import asyncio
            import threading
            from thread_terminate import BackgroundThread

            started = threading.Event()

            async def main():
                started.set()
                try:
                    await asyncio.Event().wait()
                finally:
                    await asyncio.sleep(0.1)
                    print(await asyncio.to_thread(pow, 2, 10))

            thread = BackgroundThread(task_target=main)
            thread.start()
            started.wait()
            thread.terminate()
        """)
        self.assertEqual(out, ["1024"])
        self.assertEqual(err, "")

    @requires_threads_at_exit
    def test_cleanup_cannot_use_to_thread(self):
        # A BackgroundThread is a service: its task is cancelled after the
        # executors shut down, so its cleanup can no longer start work in
        # one (asyncio.to_thread() raises RuntimeError).  An executor job
        # that the cleanup needs must be submitted earlier.
        out, err = self.run_script("""
            import asyncio
            import concurrent.futures.thread
            import threading
            from thread_terminate import BackgroundThread

            started = threading.Event()

            async def main():
                started.set()
                try:
                    await asyncio.Event().wait()
                finally:
                    try:
                        await asyncio.to_thread(pow, 2, 10)
                    except RuntimeError as exc:
                        print("RuntimeError:", exc)

            BackgroundThread(task_target=main).start()
            started.wait()
        """)
        self.assertEqual(out, ["RuntimeError: cannot schedule new futures "
                               "after interpreter shutdown"])
        self.assertEqual(err, "")

    @requires_threads_at_exit  # the thread that asks at the deadline
    def test_executor_worker_blocked_on_call(self):
        # A worker of an executor is blocked on a call into the thread's
        # loop: at the deadline, while the executors shut down, the call is
        # cancelled, so they can.
        out, err = self.run_script("""
            import asyncio
            from thread_terminate import BackgroundThread
            import concurrent.futures
            import threading

            portal = BackgroundThread()
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
        """, exit_timeout=0.5)
        self.assertEqual(out, ["call cancelled"])
        self.assertEqual(err, "")

    def test_recipe_sync_client(self):
        # The recipe of the documentation: a synchronous client which the
        # user forgets to close.
        path = os.path.join(os.path.dirname(__file__), '..', '..',
                            'Doc', 'includes', 'asyncio_sync_client.py')
        if not os.path.exists(path):
            self.skipTest("needs the repository's Doc/includes")
        with open(path, encoding='utf-8') as f:
            recipe = f.read()
        # The recipe imports asyncio.threading: before the upstream change,
        # let that be the backport's module.
        prelude = textwrap.dedent("""
            import asyncio
            import sys
            import thread_terminate
            if not thread_terminate.NATIVE:
                from thread_terminate import _background
                sys.modules['asyncio.threading'] = _background
                asyncio.threading = _background
        """)
        out, err = self.run_script(prelude + recipe + textwrap.dedent("""
            from thread_terminate import BackgroundThread

            handlers = set()

            async def handle(reader, writer):
                handlers.add(asyncio.current_task())
                while line := await reader.readline():
                    writer.write(line.upper())
                writer.close()
                await writer.wait_closed()
                print("server: connection closed")

            async def serve(ready):
                server = await asyncio.start_server(handle, "127.0.0.1", 0)
                ready.put(server.sockets[0].getsockname()[1])
                try:
                    async with server:
                        await server.serve_forever()
                finally:
                    # Let the handler see the end of the connection before
                    # the runner cancels it, as Server.wait_closed() does
                    # from 3.12 on.
                    if handlers:
                        await asyncio.wait(handlers, timeout=TIMEOUT)

            import queue
            ready = queue.Queue()
            server_thread = BackgroundThread(
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

    def test_thread_cleanup_uses_portal_started_before(self):
        # The threading docs' worker pattern, whose jobs use a portal: the
        # jobs still queued at exit are served, then the portal stops.
        out, err = self.run_script("""
            import asyncio
            import queue
            import threading
            import thread_terminate
            from thread_terminate import BackgroundThread

            async def serve():
                try:
                    await asyncio.Event().wait()
                finally:
                    print("portal stopped")

            portal = BackgroundThread(task_target=serve)
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

            thread_terminate.Thread(target=work, terminate=terminate).start()
            for n in range(3):
                jobs.put(n)
        """)
        self.assertEqual(out, ["0", "2", "4", "portal stopped"])
        self.assertEqual(err, "")

    @requires_threads_at_exit
    def test_portal_created_during_exit_serves_its_creator(self):
        # A client created lazily by a thread's cleanup during exit serves
        # that cleanup: a service, it is asked with the other services,
        # once the thread has ended.
        out, err = self.run_script("""
            import asyncio
            import threading
            import thread_terminate
            from thread_terminate import BackgroundThread

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
                portal = BackgroundThread(task_target=serve)
                portal.start()
                print(portal.run_coroutine_threadsafe(hello()).result(TIMEOUT))

            thread_terminate.Thread(target=run, terminate=stop.set).start()
        """)
        self.assertEqual(out, ["served", "portal stopped"])
        self.assertEqual(err, "")

    @requires_threads_at_exit
    def test_thread_started_by_atexit_function(self):
        # An atexit function may run a BackgroundThread to its end.
        out, err = self.run_script("""
            import asyncio
            import atexit
            from thread_terminate import BackgroundThread

            async def main():
                await asyncio.sleep(0)
                print("work done")

            def run():
                thread = BackgroundThread(task_target=main)
                thread.start()
                thread.join()

            atexit.register(run)
            BackgroundThread().start()
        """)
        self.assertEqual(out, ["work done"])
        self.assertEqual(err, "")

    @requires_handlers_outside_lock
    def test_terminate_from_signal_handler(self):
        # A signal handler runs between any two bytecodes of the main thread,
        # here while it submits calls, and terminates the thread.
        out, err = self.run_script("""
            import asyncio
            import signal
            from thread_terminate import BackgroundThread

            async def noop():
                pass

            portal = BackgroundThread()
            portal.start()
            handled = 0
            waiting = False

            def handler(*args):
                global handled, waiting
                # Not while another call of the handler waits: it may be
                # inside Future.result(), holding that future's lock, which
                # the loop needs to start that call.
                if waiting:
                    return
                handled += 1
                if handled < 100:
                    waiting = True
                    try:
                        portal.run_coroutine_threadsafe(noop()).result()
                    finally:
                        waiting = False
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

    @requires_handlers_outside_lock
    def test_terminate_from_signal_handler_while_submitting(self):
        # A handler that only terminates the thread, landing anywhere in
        # run_coroutine_threadsafe() in the main thread.
        out, err = self.run_script("""
            import asyncio
            import signal
            from thread_terminate import BackgroundThread

            async def noop():
                pass

            portal = BackgroundThread()
            portal.start()
            signal.signal(signal.SIGALRM, lambda *args: portal.terminate())
            signal.setitimer(signal.ITIMER_REAL, 0.01)
            try:
                while True:
                    portal.run_coroutine_threadsafe(noop())
            except RuntimeError:
                pass
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
            from thread_terminate import BackgroundThread

            class Client:
                def __del__(self):
                    print("finalizer")
                    portal.terminate()
                    try:
                        portal.run_coroutine_threadsafe(noop())
                    except RuntimeError:
                        print("refused")

            EventLoop = getattr(asyncio, 'EventLoop',
                                asyncio.SelectorEventLoop)

            class Loop(EventLoop):
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

            portal = BackgroundThread(loop_factory=loop_factory)
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
        # Ctrl-C inside the exit's terminate() call (a service's: asked
        # with the rest), before the request reached the loop: a request
        # that the first Ctrl-C interrupts is made again, once, and the
        # task is cancelled.
        out, err = self.run_script("""
            import asyncio
            import atexit
            from thread_terminate import BackgroundThread

            EventLoop = getattr(asyncio, 'EventLoop',
                                asyncio.SelectorEventLoop)

            class Loop(EventLoop):
                interrupt = False

                def call_soon_threadsafe(self, *args, **kwargs):
                    if self.interrupt:
                        self.interrupt = False
                        raise KeyboardInterrupt
                    return super().call_soon_threadsafe(*args, **kwargs)

            async def main():
                try:
                    await asyncio.Event().wait()
                finally:
                    print("task cancelled")

            portal = BackgroundThread(main, loop_factory=Loop)
            portal.start()
            portal.run_coroutine_threadsafe(asyncio.sleep(0)).result()
            portal.get_loop().interrupt = True
            # Ctrl-C skips the join.
            atexit.register(portal.join)
        """)
        self.assertEqual(out, ["task cancelled"])
        self.assertRegex(err, r"\nKeyboardInterrupt(: )?\n$")

    @unittest.skipIf(sys.version_info[:2] == (3, 12),
                     "CPython 3.12 (3.12.1 here) crashes at exit once asyncio "
                     "ran in an isolated subinterpreter (free(): invalid "
                     "pointer), also without the backport")
    def test_destroyed_subinterpreter(self):
        # Destroying a subinterpreter terminates its BackgroundThread, whose
        # cleanup runs.
        try:
            import _interpreters
        except ImportError:  # before 3.13
            try:
                import _xxsubinterpreters as _interpreters
            except ImportError:
                self.skipTest("needs _interpreters or _xxsubinterpreters")
        r, w = os.pipe()
        self.addCleanup(os.close, r)
        self.addCleanup(os.close, w)
        code = textwrap.dedent(f"""
            import asyncio
            import os
            from thread_terminate import BackgroundThread

            async def main():
                try:
                    os.write({w}, b"started ")
                    await asyncio.Event().wait()
                finally:
                    await asyncio.sleep(0)
                    os.write({w}, b"cleanup")

            BackgroundThread(task_target=main).start()
        """)
        interp = _interpreters.create()
        try:
            try:
                excinfo = _interpreters.run_string(interp, code)
            except Exception as exc:  # before 3.13
                if "thread is not supported" not in str(exc):
                    raise
                self.skipTest("the subinterpreters of _xxsubinterpreters "
                              "cannot start threads before 3.12")
            self.assertIsNone(excinfo)
            self.assertEqual(os.read(r, 8), b"started ")
        finally:
            _interpreters.destroy(interp)
        self.assertEqual(os.read(r, 100), b"cleanup")


if __name__ == '__main__':
    unittest.main()
