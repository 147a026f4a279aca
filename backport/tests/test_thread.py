"""Plain threads: the scenarios of test_threading's ThreadTerminateTests and
TerminateAtExitTests, on thread_terminate.Thread and register()."""

import os
import sys
import textwrap
import threading
import unittest

import thread_terminate
from support import (NATIVE, TIMEOUT, requires_fork, requires_threads_at_exit,
                     run_script)

# A KeyboardInterrupt that leaves threading._shutdown() is reported by C
# code, with a message that changed in 3.13.
SHUTDOWN_REPORT = (r"Exception ignored (on threading shutdown:|"
                   r"in: <module 'threading' from [^\n]*>)\n")
# The report of an exception raised by a termination request (the form
# "in: <bound method" is the first upstream version's).
REQUEST_REPORT = (r"Exception ignored (in: <bound method "
                  r"[\w.]*__terminate__ of |while asking )")


class ThreadTerminateTests(unittest.TestCase):

    def test_terminate_must_be_callable(self):
        with self.assertRaisesRegex(TypeError,
                                    r'^terminate must be callable or None$'):
            thread_terminate.Thread(terminate=42)
        thread_terminate.Thread(terminate=None)

    def test_terminate_is_keyword_only(self):
        with self.assertRaises(TypeError):
            thread_terminate.Thread(None, None, None, (), None, None, print)

    def test___terminate___calls_terminate(self):
        calls = []
        thread = thread_terminate.Thread(
            terminate=lambda *args: calls.append(args))
        self.assertIsNone(thread.__terminate__())
        self.assertEqual(calls, [()])
        self.assertFalse(thread.is_alive())

    def test___terminate___without_terminate(self):
        thread = thread_terminate.Thread()
        self.assertIsNone(thread.__terminate__())

    @unittest.skipUnless(NATIVE, "before the upstream change, the main "
                         "thread has no __terminate__() (the exit step "
                         "never asks it)")
    def test_main_thread___terminate__(self):
        self.assertIsNone(threading.current_thread().__terminate__())

    def test_is_a_threading_thread(self):
        self.assertTrue(issubclass(thread_terminate.Thread, threading.Thread))
        if NATIVE:
            self.assertIs(thread_terminate.Thread, threading.Thread)

    def test_native_detection(self):
        self.assertEqual(thread_terminate.NATIVE,
                         hasattr(threading.Thread, '__terminate__'))

    def test_default_name(self):
        def target():
            pass

        thread = thread_terminate.Thread(target=target)
        if sys.version_info >= (3, 10):
            self.assertRegex(thread.name, r'^Thread-\d+ \(target\)$')
        else:
            self.assertRegex(thread.name, r'^Thread-\d+$')

    def test_register(self):
        calls = []
        thread = threading.Thread()
        thread_terminate.register(thread, lambda: calls.append("first"))
        thread_terminate.register(thread, lambda: calls.append("second"))
        if NATIVE:
            thread.__terminate__()
            self.assertEqual(calls, ["second"])
        thread_terminate.register(thread, None)

    def test_register_own_thread(self):
        calls = []
        thread = thread_terminate.Thread(terminate=lambda: calls.append(1))
        thread_terminate.register(thread, lambda: calls.append(2))
        thread.__terminate__()
        self.assertEqual(calls, [2])
        thread_terminate.register(thread, None)
        thread.__terminate__()
        self.assertEqual(calls, [2])

    def test_register_service(self):
        thread = thread_terminate.Thread()
        thread_terminate.register(thread, print, service=True)
        self.assertIs(thread._Thread__service, True)
        thread_terminate.register(thread, print)
        self.assertIs(thread._Thread__service, False)
        with self.assertRaises(TypeError):
            thread_terminate.register(thread, print, True)
        self.assertIs(thread_terminate.Thread(service=1)._Thread__service,
                      True)
        self.assertIs(thread_terminate.Thread()._Thread__service, False)

    def test_register_bad_arguments(self):
        with self.assertRaisesRegex(TypeError,
                                    r'^thread must be a threading.Thread, '
                                    r'not int$'):
            thread_terminate.register(42, print)
        with self.assertRaisesRegex(TypeError,
                                    r'^terminate must be callable or None$'):
            thread_terminate.register(threading.Thread(), 42)


class TerminateAtExitTests(unittest.TestCase):
    """Thread.__terminate__() at interpreter exit."""

    def run_script(self, script, *args):
        out, err = run_script("import thread_terminate\n"
                              + textwrap.dedent(script), *args)
        return out, err

    def test_terminate_called_before_join(self):
        # Termination is requested before the _register_atexit() callbacks
        # registered before thread_terminate was imported (such as
        # concurrent.futures'), and the join, and both come before atexit.
        out, err = self.run_script("""
            import atexit
            import threading

            stop = threading.Event()

            def terminate():
                print("terminate")
                stop.set()

            def run():
                print("cleanup" if stop.wait(TIMEOUT) else "timed out")

            thread_terminate.Thread(target=run, terminate=terminate).start()
            atexit.register(print, "atexit")
            print("end of main")
        """)
        self.assertEqual(out, ["end of main", "terminate", "cleanup",
                               "atexit"])
        self.assertEqual(err, "")

    def test_order_against_register_atexit(self):
        # Upstream, termination comes before every _register_atexit()
        # callback.  The backport's step is such a callback, registered when
        # thread_terminate is imported: callbacks registered later run
        # before it (they run last-in first-out).
        out, err = run_script("""
            import threading
            threading._register_atexit(print, "registered before")
            import thread_terminate
            threading._register_atexit(print, "registered after")

            stop = threading.Event()

            def terminate():
                print("terminate")
                stop.set()

            def run():
                print("cleanup" if stop.wait(TIMEOUT) else "timed out")

            thread_terminate.Thread(target=run, terminate=terminate).start()
        """)
        if NATIVE:
            self.assertEqual(out, ["terminate", "cleanup", "registered after",
                                   "registered before"])
        else:
            self.assertEqual(out, ["registered after", "terminate", "cleanup",
                                   "registered before"])
        self.assertEqual(err, "")

    def test_terminate_subclasses(self):
        # A plain terminate() method is never called by shutdown; a subclass
        # opts in with __terminate__ = terminate, or overrides __terminate__.
        out, err = self.run_script("""
            import atexit
            import threading

            stopped = []

            class Stoppable(thread_terminate.Thread):
                def __init__(self, **kwargs):
                    super().__init__(**kwargs)
                    self.stop = threading.Event()

                def run(self):
                    if self.stop.wait(TIMEOUT):
                        stopped.append(self.name)

            asked = []

            class Legacy(Stoppable):
                def terminate(self):
                    asked.append("Legacy.terminate called")

            class OptIn(Stoppable):
                def terminate(self):
                    asked.append("OptIn.terminate")
                    self.stop.set()

                __terminate__ = terminate

            class Override(Stoppable):
                def __terminate__(self):
                    asked.append("Override.__terminate__")
                    self.stop.set()

            def callback():
                asked.append("callback")
                with_callback.stop.set()

            Legacy(name="legacy", daemon=True).start()
            OptIn(name="opt-in").start()
            Override(name="override").start()
            with_callback = Legacy(name="with callback", terminate=callback)
            with_callback.start()
            atexit.register(lambda: print("asked:", sorted(asked)))
            atexit.register(lambda: print("stopped:", sorted(stopped)))
        """)
        self.assertEqual(out, ["stopped: ['opt-in', 'override', "
                               "'with callback']",
                               "asked: ['OptIn.terminate', "
                               "'Override.__terminate__', 'callback']"])
        self.assertEqual(err, "")

    def test_threading_thread_subclass_with___terminate__(self):
        # A class that derives from threading.Thread itself, written for
        # the upstream API, is honoured too.
        out, err = self.run_script("""
            import threading

            class Worker(threading.Thread):
                def __init__(self):
                    super().__init__()
                    self.stop = threading.Event()

                def run(self):
                    print("stopped" if self.stop.wait(TIMEOUT)
                          else "timed out")

                def __terminate__(self):
                    print("Worker.__terminate__")
                    self.stop.set()

            Worker().start()
        """)
        self.assertEqual(out, ["Worker.__terminate__", "stopped"])
        self.assertEqual(err, "")

    def test_registered_thread(self):
        # register() gives a thread made elsewhere a terminate callback.
        out, err = self.run_script("""
            import threading

            stop = threading.Event()

            def terminate():
                print("terminate")
                stop.set()

            def run():
                print("cleanup" if stop.wait(TIMEOUT) else "timed out")

            thread = threading.Thread(target=run)
            thread.start()
            thread_terminate.register(thread, terminate)
            print("end of main")
        """)
        self.assertEqual(out, ["end of main", "terminate", "cleanup"])
        self.assertEqual(err, "")

    def test_registered_service(self):
        # register() makes a thread made elsewhere a service: asked once
        # the threads that may use it are done.
        out, err = self.run_script("""
            import threading

            stop = threading.Event()
            service = threading.Thread(target=stop.wait, args=(TIMEOUT,))
            thread_terminate.register(service, stop.set, service=True)
            service.start()
            exiting = threading.Event()

            def work():
                exiting.wait(TIMEOUT)
                print("service running after main:", not stop.is_set())

            threading.Thread(target=work).start()
            thread_terminate.Thread(target=threading.Event().wait,
                                    daemon=True,
                                    terminate=exiting.set).start()
        """)
        self.assertEqual(out, ["service running after main: True"])
        self.assertEqual(err, "")

    def test_terminate_daemon_and_dummy_threads(self):
        out, err = self.run_script("""
            import _thread
            import threading

            dummy_ready = threading.Event()

            def dummy():
                threading.current_thread()  # registers a _DummyThread
                dummy_ready.set()
                threading.Event().wait()

            _thread.start_new_thread(dummy, ())
            dummy_ready.wait()
            daemon = thread_terminate.Thread(
                target=threading.Event().wait, daemon=True,
                terminate=lambda: print("daemon thread asked to terminate"))
            daemon.start()
        """)
        self.assertEqual(out, ["daemon thread asked to terminate"])
        self.assertEqual(err, "")

    def test_terminate_thread_not_yet_running(self):
        # A thread whose start() is still in progress at exit is asked to
        # terminate, once.
        out, err = self.run_script("""
            import threading

            starting = threading.Event()
            release = threading.Event()

            class Held(thread_terminate.Thread):
                def _set_ident(self):
                    # Hold the new thread before it is registered as
                    # running: it stays in threading._limbo.
                    starting.set()
                    release.wait(TIMEOUT)
                    super()._set_ident()

            def terminate():
                print("terminate starting thread")
                release.set()

            held = Held(target=print, args=("held thread ran",),
                        terminate=terminate)
            threading.Thread(target=held.start).start()
            starting.wait()
            print("end of main")
        """)
        self.assertEqual(out, ["end of main", "terminate starting thread",
                               "held thread ran"])
        self.assertEqual(err, "")

    def test_terminate_called_once(self):
        out, err = self.run_script("""
            import atexit
            import threading

            calls = []
            atexit.register(lambda: print("calls:", len(calls)))
            thread = thread_terminate.Thread(
                target=threading.Event().wait, daemon=True,
                terminate=lambda: calls.append(1))
            thread.start()
            threading._shutdown()
            # The interpreter calls _shutdown() again at exit.
        """)
        self.assertEqual(out, ["calls: 1"])
        self.assertEqual(err, "")

    def test_finished_thread_not_terminated(self):
        out, err = self.run_script("""
            thread = thread_terminate.Thread(terminate=lambda: print("called"))
            thread.start()
            thread.join()
            thread_terminate.Thread(terminate=lambda: print("never started"))
            print("end of main")
        """)
        self.assertEqual(out, ["end of main"])
        self.assertEqual(err, "")

    @requires_threads_at_exit
    def test_thread_started_by_terminate_callback(self):
        out, err = self.run_script("""
            import atexit
            import threading

            # Both threads end at the same time: report from the main thread,
            # since print() from two threads may interleave without the GIL.
            results = []
            atexit.register(lambda: print(*sorted(results), sep="\\n"))

            def wait_and_report(name, event):
                results.append(f"{name} stopped" if event.wait(TIMEOUT)
                               else f"{name} timed out")

            first_stop = threading.Event()
            late_stop = threading.Event()

            def terminate_first():
                thread_terminate.Thread(target=wait_and_report,
                                        args=("late", late_stop),
                                        terminate=late_stop.set).start()
                first_stop.set()

            thread_terminate.Thread(target=wait_and_report,
                                    args=("first", first_stop),
                                    terminate=terminate_first).start()
        """)
        self.assertEqual(out, ["first stopped", "late stopped"])
        self.assertEqual(err, "")

    @requires_threads_at_exit
    def test_thread_started_during_join(self):
        # A thread started by another thread while shutdown is already
        # joining threads is asked to terminate too.
        out, err = self.run_script("""
            import threading

            shutdown_started = threading.Event()
            late_stop = threading.Event()

            def late():
                print("late", "stopped" if late_stop.wait(TIMEOUT)
                      else "timed out")

            def spawner():
                shutdown_started.wait(TIMEOUT)
                thread_terminate.Thread(target=late,
                                        terminate=late_stop.set).start()

            threading.Thread(target=spawner).start()
            thread_terminate.Thread(target=threading.Event().wait,
                                    daemon=True,
                                    terminate=shutdown_started.set).start()
        """)
        self.assertEqual(out, ["late stopped"])
        self.assertEqual(err, "")

    def test_terminate_exception_reported(self):
        # Exceptions go to sys.unraisablehook; the other threads are still
        # asked to terminate and joined, and the exit status is unchanged.
        # A request that raised is made again, once, with the services.
        out, err = self.run_script("""
            import sys
            import threading

            def hook(unraisable):
                # The message names the thread (the first upstream version
                # reported its bound __terminate__ method instead).
                if unraisable.err_msg:
                    name = unraisable.err_msg.split("(")[1].split(",")[0]
                else:
                    name = unraisable.object.__self__.name
                print(type(unraisable.exc_value).__name__, name)

            sys.unraisablehook = hook

            def raise_value_error():
                raise ValueError("boom")

            def raise_system_exit():
                raise SystemExit(3)

            stop = threading.Event()

            def run():
                print("good", "stopped" if stop.wait(TIMEOUT)
                      else "timed out")

            for name, terminate in [("bad", raise_value_error),
                                    ("exiting", raise_system_exit)]:
                thread_terminate.Thread(target=threading.Event().wait,
                                        daemon=True, name=name,
                                        terminate=terminate).start()
            thread_terminate.Thread(target=run, terminate=stop.set).start()
        """)
        self.assertEqual(sorted(out), ["SystemExit exiting",
                                       "SystemExit exiting",
                                       "ValueError bad", "ValueError bad",
                                       "good stopped"])
        self.assertEqual(err, "")

    def test_terminate_exception_default_hook(self):
        out, err = self.run_script("""
            import threading

            def terminate():
                raise ValueError("boom")

            thread_terminate.Thread(target=threading.Event().wait,
                                    daemon=True, name="bad",
                                    terminate=terminate).start()
        """)
        self.assertEqual(out, [])
        self.assertRegex(err, "^" + REQUEST_REPORT +
                         r"<Thread\(bad, started daemon \d+\)>[^\n]*\n"
                         r"Traceback \(most recent call last\):\n")
        self.assertIn("\nValueError: boom\n", err)
        # Made again with the rest.
        self.assertEqual(err.count("\nValueError: boom\n"), 2)

    def test_keyboard_interrupt_as_context(self):
        # Ctrl-C that makes a callback fail with another exception (here in
        # a finally block; a "with lock:" block broken by it does the same)
        # is that exception: reported, and the request is made again.
        out, err = self.run_script("""
            import atexit
            import signal
            import threading

            def interrupted():
                try:
                    signal.raise_signal(signal.SIGINT)
                finally:
                    raise RuntimeError("broken by Ctrl-C")

            thread_terminate.Thread(target=threading.Event().wait,
                                    daemon=True,
                                    terminate=interrupted).start()
            atexit.register(print, "atexit")
        """)
        self.assertEqual(out, ["atexit"])
        self.assertRegex(err, "^" + REQUEST_REPORT)
        self.assertEqual(err.count("\nRuntimeError: broken by Ctrl-C\n"), 2)
        self.assertNotRegex(err, SHUTDOWN_REPORT)

    @requires_threads_at_exit
    def test_terminated_thread_uses_executor(self):
        # The cleanup of a terminated thread may still use executors, even
        # a concurrent.futures imported only then.  (Importing the backport
        # imports concurrent.futures.thread: see the next test.)
        out, err = self.run_script("""
            import sys
            import threading

            stop = threading.Event()

            def run():
                stop.wait(TIMEOUT)
                from concurrent.futures import ThreadPoolExecutor
                with ThreadPoolExecutor() as executor:
                    print(executor.submit(pow, 2, 10).result())

            if thread_terminate.NATIVE:
                assert "concurrent.futures" not in sys.modules
            thread_terminate.Thread(target=run, terminate=stop.set).start()
        """)
        self.assertEqual(out, ["1024"])
        self.assertEqual(err, "")

    def test_terminated_thread_imports_register_atexit_module(self):
        # A module that calls threading._register_atexit() when imported
        # (concurrent.futures.process) cannot be imported for the first time
        # by a terminated thread's cleanup on a released Python: the
        # backport's step runs after threading._SHUTTING_DOWN is set.
        out, err = self.run_script("""
            import sys
            import threading

            stop = threading.Event()

            def run():
                stop.wait(TIMEOUT)
                try:
                    import concurrent.futures.process
                except RuntimeError as exc:
                    print("RuntimeError:", exc)
                else:
                    print("imported")

            assert "concurrent.futures.process" not in sys.modules
            thread_terminate.Thread(target=run, terminate=stop.set).start()
        """)
        if NATIVE:
            self.assertEqual(out, ["imported"])
        else:
            self.assertEqual(out, ["RuntimeError: can't register atexit "
                                   "after shutdown"])
        self.assertEqual(err, "")

    @requires_threads_at_exit  # the worker starts then
    def test_first_import_during_exit(self):
        # Imported for the first time while the interpreter exits, the
        # package works but takes no part in the exit (too late to register
        # its step): its threads are not asked, and one started then runs
        # normally.  Upstream, there is nothing to register: the thread
        # asks itself, as any thread started during exit.
        out, err = run_script('''
            import sys
            import threading
            import time

            def run():
                while not threading._SHUTTING_DOWN:
                    time.sleep(0.01)
                import thread_terminate
                print("imported", "concurrent.futures.thread" in sys.modules)
                worker = thread_terminate.Thread(
                    target=print, args=("worked",),
                    terminate=lambda: print("asked"))
                worker.start()
                worker.join()

            assert "thread_terminate" not in sys.modules
            threading.Thread(target=run).start()
        ''')
        if NATIVE:
            # Started during exit: it asks itself.
            self.assertEqual(out, ["imported False", "asked", "worked"])
        else:
            self.assertEqual(out, ["imported False", "worked"])
        self.assertEqual(err, "")

    @requires_threads_at_exit  # the executor starts its worker then
    def test_terminated_thread_uses_existing_executor(self):
        out, err = self.run_script("""
            import threading
            from concurrent.futures import ThreadPoolExecutor

            executor = ThreadPoolExecutor()
            stop = threading.Event()

            def run():
                stop.wait(TIMEOUT)
                print(executor.submit(pow, 2, 10).result())

            thread_terminate.Thread(target=run, terminate=stop.set).start()
        """)
        self.assertEqual(out, ["1024"])
        self.assertEqual(err, "")

    def test_executor_worker_blocked_on_terminated_thread(self):
        # Executors are shut down (joining their workers) only after the
        # terminated threads ended: a worker waiting for one is released.
        out, err = self.run_script("""
            import threading
            from concurrent.futures import ThreadPoolExecutor

            stop = threading.Event()
            released = threading.Event()

            def run():
                stop.wait(TIMEOUT)
                released.set()

            thread_terminate.Thread(target=run, terminate=stop.set).start()
            executor = ThreadPoolExecutor(1)
            future = executor.submit(released.wait, TIMEOUT)
            future.add_done_callback(
                lambda f: print("worker released:", f.result()))
        """)
        self.assertEqual(out, ["worker released: True"])
        self.assertEqual(err, "")

    @requires_fork
    def test_terminate_after_fork(self):
        # The child does not ask the parent's threads, which it does not
        # have, to terminate.
        out, err = self.run_script("""
            import faulthandler
            import os
            import threading

            stop = threading.Event()
            parent = os.getpid()

            def terminate():
                print("terminate in", "parent" if os.getpid() == parent
                      else "child")
                stop.set()

            thread_terminate.Thread(target=stop.wait,
                                    terminate=terminate).start()
            # The watchdog thread would not exist in the child.
            faulthandler.cancel_dump_traceback_later()
            pid = os.fork()
            if pid == 0:
                print("child exits")
            else:
                faulthandler.dump_traceback_later(TIMEOUT, exit=True)
                assert os.waitpid(pid, 0)[1] == 0
        """, '-W', 'ignore::DeprecationWarning')
        self.assertEqual(out, ["child exits", "terminate in parent"])
        self.assertEqual(err, "")

    def test_terminate_called_once_when_shutdown_runs_twice(self):
        # A subinterpreter may run _shutdown() twice: here once interrupted
        # (the first Ctrl-C, simulated) and then by Py_EndInterpreter().  A
        # thread asked by the first run is not asked again by the second (the
        # request that Ctrl-C interrupted is made again by the first, with
        # the rest); a thread started in between is asked by the second.
        if not NATIVE and not hasattr(threading, '_is_main_interpreter'):
            self.skipTest("before 3.12, the backport cannot tell a "
                          "subinterpreter: after Ctrl-C it marks its main "
                          "thread as ended, and threading._shutdown() does "
                          "not run again")
        run_in_subinterp = self.run_in_subinterp()
        r, w = os.pipe()
        self.addCleanup(os.close, r)
        self.addCleanup(os.close, w)
        code = textwrap.dedent(f"""
            import os
            import threading
            import thread_terminate

            release = threading.Event()
            interrupts = [1]

            def ask_first():
                os.write({w}, b"a")
                if interrupts:
                    interrupts.pop()
                    raise KeyboardInterrupt

            def ask_second():
                os.write({w}, b"b")

            def ask_third():
                os.write({w}, b"c")
                release.set()

            thread_terminate.Thread(target=release.wait,
                                    terminate=ask_second).start()
            thread_terminate.Thread(target=release.wait,
                                    terminate=ask_first).start()
            try:
                threading._shutdown()
            except KeyboardInterrupt:
                pass
            thread_terminate.Thread(target=release.wait,
                                    terminate=ask_third).start()
            threading._shutdown()
        """)
        self.assertEqual(run_in_subinterp(code), 0)
        self.assertEqual(os.read(r, 100), b"baac")

    @requires_threads_at_exit
    def test_thread_started_by_daemon_thread_during_exit(self):
        # A daemon thread is not waited for: the thread that it starts during
        # exit asks itself.
        out, err = self.run_script("""
            import threading

            exiting = threading.Event()
            spawned = threading.Event()
            stop = threading.Event()

            def spawn():
                exiting.wait(TIMEOUT)
                thread_terminate.Thread(target=run, daemon=False,
                                        terminate=stop.set).start()
                spawned.set()
                threading.Event().wait()

            def run():
                print("stopped" if stop.wait(TIMEOUT) else "timed out")

            thread_terminate.Thread(target=spawn, daemon=True,
                                    terminate=exiting.set).start()
            # Keeps exit waiting until the thread is started.
            threading.Thread(target=spawned.wait).start()
        """)
        self.assertEqual(out, ["stopped"])
        self.assertEqual(err, "")

    @requires_threads_at_exit
    def test_thread_started_by_atexit_function(self):
        # Threads started by atexit functions, once the threads were shut
        # down, belong to those functions and are not asked to terminate.
        out, err = self.run_script("""
            import atexit
            import threading

            def run_worker():
                asked = threading.Event()
                worker = thread_terminate.Thread(
                    target=lambda: print("asked" if asked.is_set()
                                         else "work done"),
                    terminate=asked.set)
                worker.start()
                worker.join()

            atexit.register(run_worker)
        """)
        self.assertEqual(out, ["work done"])
        self.assertEqual(err, "")

    @staticmethod
    def run_in_subinterp():
        try:
            import _testcapi
            return _testcapi.run_in_subinterp
        except (ImportError, AttributeError):
            raise unittest.SkipTest("needs _testcapi.run_in_subinterp()")

    def test_terminate_in_subinterpreter(self):
        run_in_subinterp = self.run_in_subinterp()
        r, w = os.pipe()
        self.addCleanup(os.close, r)
        self.addCleanup(os.close, w)
        code = textwrap.dedent(f"""
            import os
            import threading
            import thread_terminate

            stop = threading.Event()

            def terminate():
                os.write({w}, b"t")
                stop.set()

            def run():
                os.write({w}, b"x" if stop.wait({TIMEOUT!r})
                         else b"timed out")

            thread_terminate.Thread(target=run, terminate=terminate).start()
            threading._shutdown()
            # Py_EndInterpreter() calls _shutdown() again.
        """)
        self.assertEqual(run_in_subinterp(code), 0)
        self.assertEqual(os.read(r, 100), b"tx")


if __name__ == '__main__':
    unittest.main()
