"""The order in which interpreter exit asks threads to terminate.

The rule (the hardening issue's, the same upstream and in the backport):
threads are asked one at a time, most recently started first; after asking
a non-daemon thread that accepts termination, exit waits up to one second
for it to end before asking the next; a thread started during this phase by
the cleanup of such a thread belongs to it and is asked when it ends, other
threads started then ask themselves; threads started by atexit functions are
never asked.
"""

import textwrap
import unittest

from support import (NATIVE, requires_fork, requires_threads_at_exit,
                     run_script)


class ExitOrderTests(unittest.TestCase):

    def run_script(self, script, *args):
        return run_script("import thread_terminate\n"
                          + textwrap.dedent(script), *args)

    def test_most_recently_started_first(self):
        # Each thread ends before the next, older, one is asked.
        out, err = self.run_script("""
            import threading

            def start(name):
                stop = threading.Event()

                def run():
                    stop.wait(TIMEOUT)
                    print(name, "ended")

                def terminate():
                    print(name, "asked")
                    stop.set()

                thread_terminate.Thread(target=run,
                                        terminate=terminate).start()

            for name in "ABC":
                start(name)
        """)
        self.assertEqual(out, ["C asked", "C ended", "B asked", "B ended",
                               "A asked", "A ended"])
        self.assertEqual(err, "")

    def test_daemon_and_plain_threads_not_waited_for(self):
        # Daemon threads, and threads that do not accept termination, are
        # asked without a grace period.
        out, err = self.run_script("""
            import threading
            import time

            start = time.monotonic()
            stop = threading.Event()

            def terminate():
                # Well before one grace period.
                print("asked at once:", time.monotonic() - start < 0.9)
                stop.set()

            thread_terminate.Thread(target=stop.wait, args=(TIMEOUT,),
                                    terminate=terminate).start()
            for _ in range(3):
                thread_terminate.Thread(target=threading.Event().wait,
                                        daemon=True,
                                        terminate=lambda: None).start()
                threading.Thread(target=stop.wait, args=(TIMEOUT,)).start()
                thread_terminate.Thread(target=stop.wait,
                                        args=(TIMEOUT,)).start()
        """)
        self.assertEqual(out, ["asked at once: True"])
        self.assertEqual(err, "")

    def test_grace_period_is_bounded(self):
        # A consumer that ends only once the producer, started before it,
        # was asked: the consumer's request does nothing, and exit asks the
        # producer after the grace period.
        out, err = self.run_script("""
            import queue
            import threading
            import time

            items = queue.Queue()
            stop = threading.Event()

            def produce():
                stop.wait(TIMEOUT)
                print("producer ended")
                items.put(None)  # end of stream

            def consume():
                while items.get() is not None:
                    pass
                print("consumer ended")

            def ask_producer():
                global asked
                asked = time.monotonic()
                print("producer asked")
                stop.set()

            thread_terminate.Thread(target=produce,
                                    terminate=ask_producer).start()
            thread_terminate.Thread(target=consume,
                                    terminate=lambda: print("consumer asked")
                                    ).start()
            start = time.monotonic()
            import atexit
            atexit.register(lambda: print("waited the grace period:",
                                          asked - start >= 1.0))
        """)
        self.assertEqual(out, ["consumer asked", "producer asked",
                               "producer ended", "consumer ended",
                               "waited the grace period: True"])
        self.assertEqual(err, "")

    def test_cleanup_uses_earlier_portal(self):
        # A worker's exit-time cleanup uses a BackgroundThread started before
        # it (a library's portal): the worker is asked first, and the portal
        # only once the worker ended.
        out, err = self.run_script("""
            import asyncio
            import queue
            import threading

            portal = thread_terminate.BackgroundThread(name="portal")
            portal.start()

            async def job(n):
                await asyncio.sleep(0)
                return n * n

            jobs = queue.Queue()
            for n in range(5):
                jobs.put(n)

            def work():
                results = []
                while True:
                    n = jobs.get()
                    if n is None:
                        break
                    results.append(portal.run_coroutine_threadsafe(
                        job(n)).result(TIMEOUT))
                print("results:", results)

            thread_terminate.Thread(target=work,
                                    terminate=lambda: jobs.put(None)).start()
        """)
        self.assertEqual(out, ["results: [0, 1, 4, 9, 16]"])
        self.assertEqual(err, "")

    @requires_threads_at_exit
    def test_lazy_portal_serves_its_starter(self):
        # A BackgroundThread started by a thread's cleanup during exit (a
        # client created lazily) runs its task and serves the thread that
        # started it; it is asked to terminate once that thread ended.
        out, err = self.run_script("""
            import asyncio
            import threading

            stop = threading.Event()

            async def serve():
                try:
                    await asyncio.Event().wait()
                finally:
                    print("portal terminated")

            async def value():
                return 42

            def work():
                stop.wait(TIMEOUT)
                portal = thread_terminate.BackgroundThread(task_target=serve)
                portal.start()
                print("lazy portal:",
                      portal.run_coroutine_threadsafe(value()).result(TIMEOUT))

            thread_terminate.Thread(target=work, terminate=stop.set).start()
        """)
        self.assertEqual(out, ["lazy portal: 42", "portal terminated"])
        self.assertEqual(err, "")

    @requires_threads_at_exit
    def test_finished_owned_thread_not_asked(self):
        # A thread started by a thread's cleanup and already finished when
        # that thread ends is not asked: finished threads never are.
        out, err = self.run_script("""
            import threading

            stop = threading.Event()

            def run():
                stop.wait(TIMEOUT)
                helper = thread_terminate.Thread(
                    target=print, args=("helper ran",),
                    terminate=lambda: print("helper asked"))
                helper.start()
                helper.join()
                print("cleanup done")

            thread_terminate.Thread(target=run, terminate=stop.set).start()
        """)
        self.assertEqual(out, ["helper ran", "cleanup done"])
        self.assertEqual(err, "")

    @requires_threads_at_exit
    def test_atexit_threads_not_asked(self):
        # Threads started by atexit functions, after the shutdown step,
        # belong to the function: they are never asked to terminate.
        out, err = self.run_script("""
            import asyncio
            import atexit
            import threading

            def work():
                thread = thread_terminate.Thread(
                    target=print, args=("worker ran",),
                    terminate=lambda: print("worker asked"))
                thread.start()
                thread.join()

                async def task():
                    await asyncio.sleep(0.1)
                    print("task ran")

                portal = thread_terminate.BackgroundThread(task_target=task)
                portal.start()
                portal.join()

            atexit.register(work)
        """)
        self.assertEqual(out, ["worker ran", "task ran"])
        self.assertEqual(err, "")

    @requires_fork
    @requires_threads_at_exit  # and fork() too
    def test_child_forked_by_atexit_function_not_exiting(self):
        # A child forked after the shutdown step (by an atexit function)
        # is not exiting: its threads run and are not asked.
        out, err = self.run_script("""
            import asyncio
            import atexit
            import faulthandler
            import os
            import threading

            def child():
                asked = threading.Event()

                def run():
                    print("child thread asked" if asked.is_set()
                          else "child thread runs", flush=True)

                thread = thread_terminate.Thread(target=run,
                                                 terminate=asked.set)
                thread.start()
                thread.join()

                async def task():
                    print("child task ran", flush=True)

                portal = thread_terminate.BackgroundThread(task_target=task)
                portal.start()
                portal.join()

            def fork():
                faulthandler.cancel_dump_traceback_later()
                pid = os.fork()
                if pid == 0:
                    child()
                    os._exit(0)
                faulthandler.dump_traceback_later(TIMEOUT, exit=True)
                assert os.waitpid(pid, 0)[1] == 0

            stop = threading.Event()
            thread_terminate.Thread(target=stop.wait,
                                    terminate=stop.set).start()
            atexit.register(fork)
        """, '-W', 'ignore::DeprecationWarning')
        self.assertEqual(out, ["child thread runs", "child task ran"])
        self.assertEqual(err, "")

    @requires_threads_at_exit
    def test_thread_started_by_uncooperative_thread_asks_itself(self):
        # A thread started during the step by a thread that does not accept
        # termination asks itself at once.
        out, err = self.run_script("""
            import threading

            go = threading.Event()
            late_stop = threading.Event()

            def late():
                print("late", "stopped" if late_stop.wait(TIMEOUT)
                      else "timed out")

            def plain():
                go.wait(TIMEOUT)
                thread_terminate.Thread(target=late,
                                        terminate=late_stop.set).start()

            threading.Thread(target=plain).start()
            thread_terminate.Thread(target=threading.Event().wait, daemon=True,
                                    terminate=go.set).start()
        """)
        self.assertEqual(out, ["late stopped"])
        self.assertEqual(err, "")

    @requires_threads_at_exit
    def test_thread_started_by_terminate_asks_itself(self):
        # Also when __terminate__() is called by a thread asking itself:
        # here the thread it starts is joined by its starter.
        out, err = self.run_script("""
            import threading

            go = threading.Event()
            started = []

            def late():
                print("late", "stopped" if late_stop.wait(TIMEOUT)
                      else "timed out")

            def starter_terminate():
                thread = thread_terminate.Thread(target=late,
                                                 terminate=late_stop.set)
                thread.start()
                started.append(thread)

            def starter_run():
                for thread in started:
                    thread.join()

            def launcher():
                go.wait(TIMEOUT)
                # Asks itself as it starts.  Not a daemon like its starter:
                # exit waits for it, and so for the thread that it joins.
                thread_terminate.Thread(target=starter_run, daemon=False,
                                        terminate=starter_terminate).start()
                launched.set()

            late_stop = threading.Event()
            launched = threading.Event()
            # Exit waits for it until the starter has started.
            thread_terminate.Thread(target=launched.wait, args=(TIMEOUT,),
                                    terminate=lambda: None).start()
            thread_terminate.Thread(target=launcher, daemon=True).start()
            thread_terminate.Thread(target=threading.Event().wait, daemon=True,
                                    terminate=go.set).start()
        """)
        self.assertEqual(out, ["late stopped"])
        self.assertEqual(err, "")

    @requires_threads_at_exit
    def test_thread_asked_at_start_owns_later_threads(self):
        # Once a thread has asked itself, the threads that it starts belong
        # to it again: asked once it has ended.
        out, err = self.run_script("""
            import threading

            def client():
                running.set()
                asked.wait(TIMEOUT)

            def starter():
                # Asked itself before this runs.
                thread_terminate.Thread(target=client,
                                        terminate=asked.set).start()
                running.wait(TIMEOUT)
                print("client asked before its starter ended:",
                      asked.is_set())

            def launch():
                go.wait(TIMEOUT)
                thread_terminate.Thread(target=starter, daemon=False,
                                        terminate=lambda: None).start()
                launched.set()

            go = threading.Event()
            launched = threading.Event()
            running = threading.Event()
            asked = threading.Event()
            # Exit waits for it until the starter has started.
            thread_terminate.Thread(target=launched.wait, args=(TIMEOUT,),
                                    terminate=lambda: None).start()
            thread_terminate.Thread(target=launch, daemon=True).start()
            thread_terminate.Thread(target=threading.Event().wait, daemon=True,
                                    terminate=go.set).start()
        """)
        self.assertEqual(out, ["client asked before its starter ended: False"])
        self.assertEqual(err, "")

    @requires_threads_at_exit
    def test_keyboard_interrupt_outside_exit_thread_is_reported(self):
        # Ctrl-C only reaches the main thread: a KeyboardInterrupt raised
        # by a request that another thread makes is an error like another,
        # and the exit goes on waiting.
        out, err = self.run_script("""
            import sys
            import threading

            sys.unraisablehook = lambda unraisable: print(
                "reported", type(unraisable.exc_value).__name__,
                unraisable.err_msg.split(" ")[2])
            go = threading.Event()

            def interrupt():
                raise KeyboardInterrupt

            def late():
                print("late ran")

            def daemon_run():
                go.wait(TIMEOUT)
                # Asks itself as it starts.
                thread_terminate.Thread(target=late,
                                        terminate=interrupt).start()
                launched.set()

            def waited():
                # Until the late thread has started.
                launched.wait(TIMEOUT)
                print("waited ended")

            launched = threading.Event()
            thread_terminate.Thread(target=waited,
                                    terminate=lambda: None).start()
            thread_terminate.Thread(target=daemon_run, daemon=True).start()
            thread_terminate.Thread(target=threading.Event().wait, daemon=True,
                                    terminate=go.set).start()
        """)
        # Not "on threading shutdown", as Ctrl-C would be.
        self.assertEqual(sorted(out), ["late ran",
                                       "reported KeyboardInterrupt while",
                                       "waited ended"])
        self.assertEqual(err, "")

    @requires_threads_at_exit
    @unittest.skipIf(NATIVE, "the backport's records (upstream's are "
                             "tested by test_threading)")
    def test_threads_started_during_exit_are_released(self):
        # A program whose work runs in a thread during exit may start and
        # join any number of threads: they are not kept once ended.
        out, err = self.run_script("""
            import threading
            from thread_terminate import _backport

            def main():
                exiting.wait(TIMEOUT)
                for i in range(20):
                    thread = thread_terminate.Thread(target=lambda: None)
                    thread.start()
                    thread.join()
                state = _backport._exit
                print("kept:", len(state.owned_all),
                      sum(map(len, state.owned.values())))

            exiting = threading.Event()
            thread_terminate.Thread(target=main, terminate=exiting.set).start()
        """)
        self.assertEqual(out, ["kept: 0 0"])
        self.assertEqual(err, "")


if __name__ == '__main__':
    unittest.main()
