"""The rule by which interpreter exit asks threads to terminate.

The rule (issue 22's, the same upstream and in the backport): exit asks
every thread that is not a service at once; it waits, until one deadline at
most, for the non-daemon ones that accept requests, then for the executors'
shutdown and the other non-daemon non-service threads; then it asks the
rest: the services (Thread(service=True), BackgroundThread), all at once,
and the threads whose request raised or was interrupted, once more.
Threads started during exit ask themselves, except a service started before
the rest was asked; threads started by atexit functions are not asked; a
fork child is not exiting, unless forked by the thread running the exit.
Ctrl-C stops the waiting: every thread is still asked (the rest at once,
while the executors still shut down), and the first KeyboardInterrupt is
reported.

Each scenario runs in a subprocess and checks its exact output.  Where a
scenario must not depend on the deadline, it sets the deadline beyond the
test's timeout: waiting for it fails the test.
"""

import sys
import textwrap
import unittest

from support import (NATIVE, TIMEOUT, requires_fork, requires_threads_at_exit,
                     run_script)

# A KeyboardInterrupt that leaves threading._shutdown() is reported by C
# code, with a message that changed in 3.13.
SHUTDOWN_REPORT = (r"Exception ignored (on threading shutdown:|"
                   r"in: <module 'threading' from [^\n]*>)\n")
KEYBOARD_INTERRUPT = r"\nKeyboardInterrupt(: )?\n$"
# Beyond the test's timeout: a scenario that waited for the deadline fails.
NO_DEADLINE = 2 * TIMEOUT
# A short deadline, for the scenarios that reach it.
SHORT_DEADLINE = 0.5

# A service whose cleanup prints, and the calls that use it.
SERVICE = """
    import asyncio
    import threading
    from thread_terminate import BackgroundThread

    service_running = threading.Event()

    async def serve():
        service_running.set()
        try:
            await asyncio.Event().wait()
        finally:
            print("service stopped", flush=True)

    async def double(n):
        await asyncio.sleep(0)
        return 2 * n

    service = BackgroundThread(serve, name="service")
    service.start()
    # A task asked to terminate before it starts never runs.
    service_running.wait(TIMEOUT)
"""

# exiting is set when exit begins: daemon threads are asked at once.
EXITING = """
    import threading
    exiting = threading.Event()
    thread_terminate.Thread(target=threading.Event().wait, daemon=True,
                            terminate=exiting.set).start()
"""


class ExitRuleTests(unittest.TestCase):

    def run_script(self, script, *args, exit_timeout=None, service=False,
                   exiting=False):
        prelude = "import thread_terminate\n"
        if service:
            prelude += textwrap.dedent(SERVICE)
        if exiting:
            prelude += textwrap.dedent(EXITING)
        return run_script(prelude + textwrap.dedent(script), *args,
                          exit_timeout=exit_timeout)

    # --- every thread that is not a service is asked at once -----------

    def test_workers_sharing_a_queue_each_get_their_sentinel(self):
        # The threading docs' worker pattern with several workers: each
        # request puts one sentinel, and every worker is asked, also when
        # another one has ended meanwhile.
        out, err = self.run_script("""
            import atexit
            import queue
            import threading

            jobs = queue.Queue()
            done = []

            def work():
                while (job := jobs.get()) is not None:
                    done.append(job)

            for _ in range(8):
                thread_terminate.Thread(
                    target=work, terminate=lambda: jobs.put(None)).start()
            for job in range(100):
                jobs.put(job)
            atexit.register(lambda: print("jobs done:", len(done)))
        """, exit_timeout=NO_DEADLINE)
        self.assertEqual(out, ["jobs done: 100"])
        self.assertEqual(err, "")

    def test_independent_threads_stop_in_parallel(self):
        # Each thread's cleanup ends only once every thread has been asked
        # (a barrier): asked one at a time, with some waiting for each,
        # exit would take several seconds.
        out, err = self.run_script("""
            import atexit
            import threading
            import time

            N = 8
            barrier = threading.Barrier(N)
            asked = []

            def start():
                stop = threading.Event()

                def terminate():
                    asked.append(time.monotonic())
                    stop.set()

                def run():
                    stop.wait(TIMEOUT)
                    barrier.wait(TIMEOUT)

                thread_terminate.Thread(target=run, terminate=terminate).start()

            for _ in range(N):
                start()
            atexit.register(lambda: print(
                len(asked), "asked, exit took less than",
                "4 s:", time.monotonic() - asked[0] < 4.0))
        """, exit_timeout=NO_DEADLINE)
        self.assertEqual(out, ["8 asked, exit took less than 4 s: True"])
        self.assertEqual(err, "")

    def test_consumer_waiting_for_producer_exits(self):
        # A consumer that ends only once the producer has ended: both are
        # asked at once, so exit does not wait for the deadline.
        out, err = self.run_script("""
            import queue
            import threading

            items = queue.Queue()
            stop = threading.Event()

            def produce():
                stop.wait(TIMEOUT)
                print("producer ended", flush=True)
                items.put(None)  # end of stream

            def consume():
                while items.get() is not None:
                    pass
                print("consumer ended")

            # The consumer's request does nothing.
            thread_terminate.Thread(target=consume,
                                    terminate=lambda: None).start()
            thread_terminate.Thread(target=produce,
                                    terminate=stop.set).start()
        """, exit_timeout=NO_DEADLINE)
        self.assertEqual(out, ["producer ended", "consumer ended"])
        self.assertEqual(err, "")

    def test_only_accepting_threads_waited_for_before_executors(self):
        # Before the _register_atexit() callbacks (the executors' shutdown),
        # exit waits for the non-daemon threads that accept requests; not
        # for daemon threads, nor for threads without a terminate callable
        # or a __terminate__() of their own, which it waits for after.
        out, err = run_script("""
            import threading

            callbacks_ran = threading.Event()
            # Registered before the import: called after the requests in
            # the backport too.
            threading._register_atexit(callbacks_ran.set)
            import thread_terminate

            def wait_for_callbacks(name):
                callbacks_ran.wait(TIMEOUT)
                print(name, "ended", flush=True)

            stop = threading.Event()

            def accepting():
                stop.wait(TIMEOUT)
                print("accepting thread ended", flush=True)

            class Terminable(threading.Thread):
                def __terminate__(self):
                    stop.set()

            thread_terminate.Thread(target=threading.Event().wait,
                                    daemon=True,
                                    terminate=lambda: None).start()
            threading.Thread(target=wait_for_callbacks,
                             args=("plain thread",)).start()
            thread_terminate.Thread(target=wait_for_callbacks,
                                    args=("thread without callback",)).start()
            Terminable(target=accepting).start()
        """, exit_timeout=NO_DEADLINE)
        self.assertEqual(out[0], "accepting thread ended")
        self.assertEqual(sorted(out[1:]), ["plain thread ended",
                                           "thread without callback ended"])
        self.assertEqual(err, "")

    @unittest.skipIf(not NATIVE and sys.version_info < (3, 13),
                     "before 3.13, the backport marks the main thread as "
                     "ended only after the step: exit waits for the deadline")
    def test_thread_joining_main_thread(self):
        # The main thread is marked as ended once the executors have shut
        # down, before exit waits for the other non-daemon threads.
        out, err = self.run_script("""
            import threading

            def work():
                threading.main_thread().join()
                print("main thread joined")

            threading.Thread(target=work).start()
        """, exit_timeout=NO_DEADLINE)
        self.assertEqual(out, ["main thread joined"])
        self.assertEqual(err, "")

    # --- services are asked once the others are done --------------------

    def test_plain_thread_outliving_main_uses_service(self):
        # A plain non-daemon worker (no terminate=) that goes on after the
        # main thread has returned keeps its service until it ends.
        out, err = self.run_script("""
            def work():
                exiting.wait(TIMEOUT)
                results = [service.run_coroutine_threadsafe(double(n))
                           .result(TIMEOUT) for n in range(20)]
                print("served:", len(results), flush=True)

            threading.Thread(target=work).start()
        """, service=True, exiting=True, exit_timeout=NO_DEADLINE)
        self.assertEqual(out, ["served: 20", "service stopped"])
        self.assertEqual(err, "")

    def test_terminated_threads_cleanups_use_service(self):
        # The cleanups of the terminated threads (here two clients of a
        # service thread of the application) keep the service until they
        # are done.
        out, err = self.run_script("""
            import atexit
            import queue
            import threading

            requests = queue.Queue()

            def serve():
                while (request := requests.get()) is not None:
                    request()
                print("service stopped")

            thread_terminate.Thread(target=serve, service=True,
                                    terminate=lambda: requests.put(None)
                                    ).start()
            served = []

            def client(name, exiting):
                exiting.wait(TIMEOUT)
                for _ in range(30):
                    done = threading.Event()
                    requests.put(done.set)
                    if done.wait(TIMEOUT):
                        served.append(name)

            for name in ["first", "second"]:
                exiting = threading.Event()
                thread_terminate.Thread(target=client, args=(name, exiting),
                                        terminate=exiting.set).start()
            atexit.register(lambda: print(
                "served:", served.count("first"), served.count("second")))
        """, exit_timeout=NO_DEADLINE)
        self.assertEqual(out, ["service stopped", "served: 30 30"])
        self.assertEqual(err, "")

    def test_executor_jobs_queued_at_exit_use_service(self):
        # The executors shut down, running their queued jobs, before the
        # services are asked.
        out, err = self.run_script("""
            import atexit
            from concurrent.futures import ThreadPoolExecutor

            def job(n):
                exiting.wait(TIMEOUT)
                return service.run_coroutine_threadsafe(
                    double(n)).result(TIMEOUT)

            executor = ThreadPoolExecutor(2)
            futures = [executor.submit(job, n) for n in range(6)]
            atexit.register(lambda: print(
                "results:", [future.result() for future in futures]))
        """, service=True, exiting=True, exit_timeout=NO_DEADLINE)
        self.assertEqual(out, ["service stopped",
                               "results: [0, 2, 4, 6, 8, 10]"])
        self.assertEqual(err, "")

    def test_services_asked_at_once(self):
        # Services are asked together: here each one's cleanup ends only
        # once every service has been asked.
        out, err = self.run_script("""
            import atexit
            import threading

            barrier = threading.Barrier(3)
            stopped = []

            def start(name):
                stop = threading.Event()

                def run():
                    stop.wait(TIMEOUT)
                    barrier.wait(TIMEOUT)
                    stopped.append(name)

                thread_terminate.Thread(target=run, terminate=stop.set,
                                        service=True).start()

            for name in "ABC":
                start(name)
            atexit.register(lambda: print("stopped:", sorted(stopped)))
        """, exit_timeout=NO_DEADLINE)
        self.assertEqual(out, ["stopped: ['A', 'B', 'C']"])
        self.assertEqual(err, "")

    def test_consumers_as_services(self):
        # Consumers that serve a producer (a plain thread, released when
        # exit begins) are asked once the producer has ended: they end the
        # stream after its last item.  Upstream's test uses
        # Queue.shutdown() (3.13+); here each consumer passes the end of
        # the stream on, so that one request ends them all.
        out, err = self.run_script("""
            import atexit
            import queue

            items = queue.Queue()
            consumed = []

            def produce():
                exiting.wait(TIMEOUT)
                for item in range(50):
                    items.put(item)

            def consume():
                while (item := items.get()) is not None:
                    consumed.append(item)
                items.put(None)

            threading.Thread(target=produce).start()
            for _ in range(2):
                thread_terminate.Thread(target=consume, service=True,
                                        terminate=lambda: items.put(None)
                                        ).start()
            atexit.register(lambda: print(sorted(consumed) == list(range(50))))
        """, exiting=True, exit_timeout=NO_DEADLINE)
        self.assertEqual(out, ["True"])
        self.assertEqual(err, "")

    def test_service_asked_at_the_deadline(self):
        # A thread that waits for a service's end (a call that only the
        # service's stop ends) is released at the deadline, from which exit
        # no longer waits for the threads that may use the service.
        out, err = self.run_script("""
            import threading
            import time

            exit_began = []
            stop = threading.Event()
            service = thread_terminate.Thread(target=stop.wait,
                                              args=(TIMEOUT,),
                                              terminate=stop.set,
                                              service=True)
            service.start()

            def wait_for_service():
                exiting.wait(TIMEOUT)
                began = time.monotonic()
                service.join()
                print("released after the deadline:",
                      time.monotonic() - began >= 0.5 * DEADLINE)

            threading.Thread(target=wait_for_service).start()
        """.replace("DEADLINE", repr(SHORT_DEADLINE)),
            exiting=True, exit_timeout=SHORT_DEADLINE)
        self.assertEqual(out, ["released after the deadline: True"])
        self.assertEqual(err, "")

    @requires_threads_at_exit  # the thread that asks at the deadline
    def test_executor_job_blocked_on_service_released_at_deadline(self):
        # While the executors shut down, the services are asked at the
        # deadline: a job that waits for one's end cannot hang exit.
        out, err = self.run_script("""
            import threading
            from concurrent.futures import ThreadPoolExecutor

            stop = threading.Event()
            service = thread_terminate.Thread(target=stop.wait,
                                              args=(TIMEOUT,),
                                              terminate=stop.set,
                                              service=True)
            service.start()
            executor = ThreadPoolExecutor(1)
            future = executor.submit(service.join)
            future.add_done_callback(
                lambda future: print("job released:", stop.is_set()))
        """, exit_timeout=SHORT_DEADLINE)
        self.assertEqual(out, ["job released: True"])
        self.assertEqual(err, "")

    @requires_threads_at_exit
    def test_service_started_during_exit_asked_with_the_rest(self):
        # A service started by a cleanup during exit (a client created
        # lazily) is not asked as it starts: it serves that cleanup, and is
        # asked with the other services.
        out, err = self.run_script("""
            import queue
            import threading

            stop = threading.Event()

            def work():
                stop.wait(TIMEOUT)
                requests = queue.Queue()

                def serve():
                    while (request := requests.get()) is not None:
                        request()
                    print("service stopped")

                thread_terminate.Thread(target=serve, service=True,
                                        terminate=lambda: requests.put(None)
                                        ).start()
                done = threading.Event()
                requests.put(done.set)
                print("served" if done.wait(TIMEOUT) else "not served",
                      flush=True)

            thread_terminate.Thread(target=work, terminate=stop.set).start()
        """, exit_timeout=NO_DEADLINE)
        self.assertEqual(out, ["served", "service stopped"])
        self.assertEqual(err, "")

    @requires_threads_at_exit
    def test_service_started_after_the_rest_asks_itself(self):
        # Once the services were asked, a service that a thread starts
        # (here one that waits for the first service's end, so at the
        # deadline) asks itself as it starts.
        out, err = self.run_script("""
            import threading

            first_stop = threading.Event()
            first = thread_terminate.Thread(target=first_stop.wait,
                                            args=(TIMEOUT,),
                                            terminate=first_stop.set,
                                            service=True)
            first.start()

            def late():
                first.join()
                stop = threading.Event()
                thread_terminate.Thread(target=stop.wait, args=(TIMEOUT,),
                                        terminate=stop.set,
                                        service=True).start()
                print("late service asked:", stop.wait(TIMEOUT))

            threading.Thread(target=late).start()
        """, exit_timeout=SHORT_DEADLINE)
        self.assertEqual(out, ["late service asked: True"])
        self.assertEqual(err, "")

    # --- threads started during exit -----------------------------------

    @requires_threads_at_exit
    def test_thread_started_during_exit_asks_itself(self):
        # A thread started during exit, here by a cleanup that holds a lock
        # that the request needs, asks itself when it starts running, in
        # its own thread.
        out, err = self.run_script("""
            import atexit
            import threading

            lock = threading.Lock()
            stop = threading.Event()
            late_stop = threading.Event()
            results = []

            def late():
                results.append("late stopped" if late_stop.wait(TIMEOUT)
                               else "late timed out")

            def terminate_late():
                results.append(
                    "asked in its own thread: "
                    f"{threading.current_thread() is late_thread}")
                with lock:
                    late_stop.set()

            def work():
                global late_thread
                stop.wait(TIMEOUT)
                with lock:
                    late_thread = thread_terminate.Thread(
                        target=late, terminate=terminate_late)
                    late_thread.start()
                    results.append("started late")
                late_thread.join()

            thread_terminate.Thread(target=work, terminate=stop.set).start()
            atexit.register(lambda: print(*sorted(results), sep="\\n"))
        """, exit_timeout=NO_DEADLINE)
        self.assertEqual(out, ["asked in its own thread: True",
                               "late stopped", "started late"])
        self.assertEqual(err, "")

    @requires_threads_at_exit
    def test_thread_started_during_exit_asked_once(self):
        # A thread started during exit is asked once, when it starts
        # running: not again after it ended.
        out, err = self.run_script("""
            import threading

            stop = threading.Event()
            requests = []

            def run():
                stop.wait(TIMEOUT)
                helper = thread_terminate.Thread(
                    target=print, args=("helper ran",),
                    terminate=lambda: requests.append("helper"))
                helper.start()
                helper.join()
                print("helper asked:", requests.count("helper"))

            thread_terminate.Thread(target=run, terminate=stop.set).start()
        """, exit_timeout=NO_DEADLINE)
        self.assertEqual(out, ["helper ran", "helper asked: 1"])
        self.assertEqual(err, "")

    @requires_threads_at_exit
    def test_threads_started_during_exit_are_not_kept(self):
        # A program whose work runs in a thread during exit may start any
        # number of threads: once ended, they are not kept.
        out, err = self.run_script("""
            import gc
            import threading
            import weakref

            stop = threading.Event()

            def work():
                stop.wait(TIMEOUT)
                refs = []
                for _ in range(20):
                    thread = thread_terminate.Thread(target=int, terminate=int)
                    thread.start()
                    thread.join()
                    refs.append(weakref.ref(thread))
                del thread
                gc.collect()
                print("kept", sum(ref() is not None for ref in refs))

            thread_terminate.Thread(target=work, terminate=stop.set).start()
        """, exit_timeout=NO_DEADLINE)
        self.assertEqual(out, ["kept 0"])
        self.assertEqual(err, "")

    @requires_threads_at_exit
    def test_thread_asking_itself_is_asked_once(self):
        # A thread started during exit is recorded as asked before it asks
        # itself, so that the rest, asked while its request still runs,
        # does not include it.
        out, err = self.run_script("""
            import threading

            service_asked = threading.Event()
            thread_terminate.Thread(target=threading.Event().wait,
                                    daemon=True, terminate=service_asked.set,
                                    service=True).start()
            stop = threading.Event()
            late_stop = threading.Event()

            def terminate_late():
                print("late asked", flush=True)
                # Until the services are asked, at the deadline.
                service_asked.wait(TIMEOUT)
                late_stop.set()

            def cleanup():
                stop.wait(TIMEOUT)
                thread_terminate.Thread(target=late_stop.wait,
                                        args=(TIMEOUT,),
                                        terminate=terminate_late).start()

            thread_terminate.Thread(target=cleanup, terminate=stop.set).start()
        """, exit_timeout=SHORT_DEADLINE)
        self.assertEqual(out, ["late asked"])
        self.assertEqual(err, "")

    @requires_threads_at_exit
    def test_atexit_threads_not_asked(self):
        # Threads started by atexit functions, once threading's shutdown is
        # over, belong to the function: they are never asked to terminate.
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
                    await asyncio.sleep(0)
                    print("task ran")

                portal = thread_terminate.BackgroundThread(task_target=task)
                portal.start()
                portal.join()

            atexit.register(work)
            stop = threading.Event()
            thread_terminate.Thread(target=stop.wait, terminate=stop.set,
                                    service=True).start()
        """)
        self.assertEqual(out, ["worker ran", "task ran"])
        self.assertEqual(err, "")

    # --- failed requests ------------------------------------------------

    def test_failed_request_made_again_with_the_rest(self):
        # A request made before the thread could act on it (here, before
        # run() set up what __terminate__() uses) raises: it is reported,
        # then made again once exit stops waiting (at the deadline here,
        # since the thread does not end), and exit goes on.
        out, err = self.run_script("""
            import sys
            import threading

            sys.unraisablehook = lambda unraisable: print(
                "reported:", type(unraisable.exc_value).__name__, flush=True)
            go = threading.Event()
            ready = threading.Event()
            requests = []

            class Loop(thread_terminate.Thread):
                def run(self):
                    go.wait(TIMEOUT)
                    self.stop = threading.Event()
                    ready.set()
                    self.stop.wait(TIMEOUT)
                    print("loop stopped, requests:", len(requests))

                def __terminate__(self):
                    requests.append(1)
                    if len(requests) > 1:
                        ready.wait(TIMEOUT)
                    try:
                        self.stop.set()  # the first time: AttributeError
                    finally:
                        go.set()

            Loop().start()
        """, exit_timeout=SHORT_DEADLINE)
        self.assertEqual(out, ["reported: AttributeError",
                               "loop stopped, requests: 2"])
        self.assertEqual(err, "")

    def test_failed_request_made_again_once(self):
        # A request that always raises is made twice, without waiting.
        out, err = self.run_script("""
            import sys
            import threading

            sys.unraisablehook = lambda unraisable: print(
                "reported:", unraisable.exc_value)
            requests = []

            def terminate():
                requests.append(1)
                raise ValueError(f"request {len(requests)}")

            thread_terminate.Thread(target=threading.Event().wait,
                                    daemon=True, terminate=terminate).start()
        """, exit_timeout=NO_DEADLINE)
        self.assertEqual(out, ["reported: request 1", "reported: request 2"])
        self.assertEqual(err, "")

    @requires_threads_at_exit  # the thread that asks at the deadline
    def test_failed_request_made_again_once_at_deadline(self):
        # Also when the rest is asked at the deadline, while the executors
        # shut down (here a job waits for a service): the thread running
        # the exit does not ask it again.
        out, err = self.run_script("""
            import atexit
            import sys
            import threading
            from concurrent.futures import ThreadPoolExecutor

            sys.unraisablehook = lambda unraisable: None
            calls = []

            def failing():
                calls.append(None)
                raise ValueError

            thread_terminate.Thread(target=threading.Event().wait,
                                    daemon=True, terminate=failing).start()
            stop = threading.Event()
            thread_terminate.Thread(target=stop.wait, terminate=stop.set,
                                    service=True).start()
            ThreadPoolExecutor(1).submit(stop.wait, TIMEOUT)
            atexit.register(lambda: print(len(calls)))
        """, exit_timeout=SHORT_DEADLINE)
        self.assertEqual(out, ["2"])
        self.assertEqual(err, "")

    # --- Ctrl-C ---------------------------------------------------------

    def test_keyboard_interrupt_in_a_request(self):
        # Ctrl-C during a request: the other threads are still asked, exit
        # stops waiting (here for a thread that never ends), the executors
        # still run their queued work while the services and the
        # interrupted thread are asked (again) at once, the main thread is
        # marked as ended, and the KeyboardInterrupt is reported.
        out, err = self.run_script("""
            import asyncio
            import atexit
            import signal
            import threading
            from concurrent.futures import ThreadPoolExecutor
            from thread_terminate import BackgroundThread

            events = []
            interrupts = [1]

            def interrupt():
                events.append("interrupting request")
                if interrupts:
                    interrupts.pop()
                    signal.raise_signal(signal.SIGINT)

            release = threading.Event()
            executor = ThreadPoolExecutor(1)
            started = threading.Event()
            executor.submit(lambda: (started.set(), release.wait(TIMEOUT)))
            executor.submit(events.append, "queued work done")
            started.wait(TIMEOUT)

            async def serve_and_record():
                try:
                    await asyncio.Event().wait()
                finally:
                    events.append("recording service stopped")

            recorder = BackgroundThread(serve_and_record)
            recorder.start()
            thread_terminate.Thread(target=threading.Event().wait,
                                    terminate=interrupt).start()
            thread_terminate.Thread(target=threading.Event().wait,
                                    daemon=True,
                                    terminate=release.set).start()

            def report():
                recorder.join()
                print(events[0])
                print(*sorted(events[1:]), sep="\\n")
                print("main thread alive:",
                      threading.main_thread().is_alive())

            atexit.register(report)
        """, exit_timeout=NO_DEADLINE)
        self.assertEqual(out, ["interrupting request",
                               "interrupting request", "queued work done",
                               "recording service stopped",
                               "main thread alive: False"])
        self.assertRegex(err, "^" + SHUTDOWN_REPORT)
        self.assertRegex(err, KEYBOARD_INTERRUPT)

    @requires_threads_at_exit  # the thread that asks the rest
    def test_keyboard_interrupt_asks_services_at_once(self):
        # After Ctrl-C, the services are asked while the executors shut
        # down, so that an executor job blocked on one is released.
        out, err = self.run_script("""
            import signal
            import threading
            from concurrent.futures import ThreadPoolExecutor

            stop = threading.Event()
            thread_terminate.Thread(target=stop.wait, terminate=stop.set,
                                    service=True).start()
            ThreadPoolExecutor(1).submit(
                lambda: print("job", "released" if stop.wait(TIMEOUT)
                              else "timed out"))
            interrupts = [1]

            def interrupt():
                if interrupts:  # Ctrl-C, once
                    interrupts.pop()
                    signal.raise_signal(signal.SIGINT)

            thread_terminate.Thread(target=threading.Event().wait,
                                    daemon=True, terminate=interrupt).start()
        """, exit_timeout=NO_DEADLINE)
        self.assertEqual(out, ["job released"])
        self.assertRegex(err, "^" + SHUTDOWN_REPORT)
        self.assertRegex(err, KEYBOARD_INTERRUPT)

    def test_keyboard_interrupt_while_waiting(self):
        # Ctrl-C while exit waits for the threads that accept requests (the
        # second one never ends): exit stops waiting, asks the services at
        # once, then reports the KeyboardInterrupt.
        out, err = self.run_script("""
            import atexit
            import signal

            def work():
                exiting.wait(TIMEOUT)
                # Ctrl-C, to the thread running the exit, which waits for
                # this thread (first, the one started first), or is about
                # to: it handles the signal at the latest once this thread
                # has ended.
                signal.pthread_kill(threading.main_thread().ident,
                                    signal.SIGINT)

            thread_terminate.Thread(target=work, terminate=lambda: None).start()
            thread_terminate.Thread(target=threading.Event().wait,
                                    terminate=lambda: None).start()
            atexit.register(service.join)
        """, service=True, exiting=True, exit_timeout=NO_DEADLINE)
        self.assertEqual(out, ["service stopped"])
        self.assertRegex(err, "^" + SHUTDOWN_REPORT)
        self.assertRegex(err, KEYBOARD_INTERRUPT)

    def test_keyboard_interrupt_first_is_reported(self):
        # Of several Ctrl-C during the requests, the first is reported.
        # Each arrives once: not again when the interrupted request is made
        # again (at once, by the thread that asks the rest while the
        # executors shut down).
        out, err = self.run_script("""
            import signal
            import threading

            interrupted = []

            def first_interrupt():
                if "first" not in interrupted:
                    interrupted.append("first")
                    signal.raise_signal(signal.SIGINT)

            def second_interrupt():
                if "second" not in interrupted:
                    interrupted.append("second")
                    signal.raise_signal(signal.SIGINT)

            for terminate in [first_interrupt, second_interrupt]:
                thread_terminate.Thread(target=threading.Event().wait,
                                        daemon=True,
                                        terminate=terminate).start()
        """)
        self.assertEqual(out, [])
        self.assertIn("in first_interrupt\n", err)
        self.assertNotIn("second_interrupt", err)
        self.assertRegex(err, "^" + SHUTDOWN_REPORT)
        self.assertRegex(err, KEYBOARD_INTERRUPT)

    def test_keyboard_interrupt_first_is_reported_after_executors(self):
        # Ctrl-C in a request, then a second one in the executors' shutdown:
        # the first is reported.  The first arrives once: not again when
        # the interrupted request is made again (at once, by the thread
        # that asks the rest while the executors shut down).
        out, err = run_script("""
            import signal
            import threading

            def second_interrupt():
                signal.raise_signal(signal.SIGINT)

            threading._register_atexit(second_interrupt)
            import thread_terminate

            interrupts = [1]

            def first_interrupt():
                if interrupts:
                    interrupts.pop()
                    signal.raise_signal(signal.SIGINT)

            thread_terminate.Thread(target=threading.Event().wait,
                                    daemon=True,
                                    terminate=first_interrupt).start()
        """)
        self.assertEqual(out, [])
        self.assertIn("in first_interrupt\n", err)
        self.assertNotIn("second_interrupt", err)
        self.assertRegex(err, "^" + SHUTDOWN_REPORT)
        self.assertRegex(err, KEYBOARD_INTERRUPT)

    def test_keyboard_interrupt_in_executors_shutdown(self):
        # Ctrl-C in a _register_atexit() callback (one registered before
        # thread_terminate was imported, so that it runs after the requests
        # in the backport too), such as the executors' shutdown: the main
        # thread is marked as ended, the services are still asked.
        out, err = run_script(textwrap.dedent("""
            import atexit
            import signal
            import threading

            threading._register_atexit(signal.raise_signal, signal.SIGINT)
            import thread_terminate
        """) + textwrap.dedent(SERVICE) + textwrap.dedent("""
            def report():
                service.join()
                print("main thread alive:",
                      threading.main_thread().is_alive())

            atexit.register(report)
        """))
        self.assertEqual(out, ["service stopped", "main thread alive: False"])
        self.assertRegex(err, "^" + SHUTDOWN_REPORT)
        self.assertRegex(err, KEYBOARD_INTERRUPT)

    @requires_threads_at_exit
    def test_keyboard_interrupt_outside_exit_thread_is_reported(self):
        # Ctrl-C only reaches the thread running the exit: a
        # KeyboardInterrupt raised by a request that another thread makes
        # (here a thread started during exit, asking itself) is an error
        # like another, and exit goes on.
        out, err = self.run_script("""
            import sys
            import threading

            sys.unraisablehook = lambda unraisable: print(
                "reported", type(unraisable.exc_value).__name__,
                unraisable.err_msg.split(" ")[2], flush=True)

            def interrupt():
                raise KeyboardInterrupt

            def late():
                print("late ran")

            def work():
                exiting.wait(TIMEOUT)
                thread = thread_terminate.Thread(target=late,
                                                 terminate=interrupt)
                thread.start()
                thread.join()

            threading.Thread(target=work).start()
        """, exiting=True, exit_timeout=NO_DEADLINE)
        # Not "on threading shutdown", as Ctrl-C would be.
        self.assertEqual(out, ["reported KeyboardInterrupt while",
                               "late ran"])
        self.assertEqual(err, "")

    @requires_threads_at_exit  # the thread that asks at the deadline
    def test_keyboard_interrupt_in_request_at_deadline_is_reported(self):
        # Also in the thread that asks the services at the deadline while
        # the executors shut down.
        out, err = self.run_script("""
            import sys
            import threading
            from concurrent.futures import ThreadPoolExecutor

            reported = threading.Event()

            def hook(unraisable):
                print("reported", type(unraisable.exc_value).__name__,
                      unraisable.err_msg.split(" ")[2], flush=True)
                reported.set()

            sys.unraisablehook = hook
            stop = threading.Event()

            def interrupt():
                stop.set()
                raise KeyboardInterrupt

            service = thread_terminate.Thread(target=stop.wait,
                                              args=(TIMEOUT,),
                                              terminate=interrupt,
                                              service=True)
            service.start()
            executor = ThreadPoolExecutor(1)
            future = executor.submit(service.join)
            future.add_done_callback(lambda future: print(
                "job released, request reported:", reported.wait(TIMEOUT)))
        """, exit_timeout=SHORT_DEADLINE)
        self.assertEqual(out, ["reported KeyboardInterrupt while",
                               "job released, request reported: True"])
        self.assertEqual(err, "")

    # --- fork -----------------------------------------------------------

    @requires_fork
    @requires_threads_at_exit  # and fork() too
    def test_child_forked_during_exit_not_exiting(self):
        # A child forked by a thread's cleanup while the parent exits is not
        # exiting: the threads it starts are not asked.
        out, err = self.run_script("""
            import faulthandler
            import os
            import threading

            stop = threading.Event()

            def child():
                asked = threading.Event()
                thread = thread_terminate.Thread(
                    target=lambda: print("child thread asked"
                                         if asked.is_set()
                                         else "child thread runs",
                                         flush=True),
                    terminate=asked.set)
                thread.start()
                thread.join()

            def run():
                stop.wait(TIMEOUT)
                # The watchdog thread would not exist in the child.
                faulthandler.cancel_dump_traceback_later()
                pid = os.fork()
                if pid == 0:
                    child()
                    os._exit(0)
                faulthandler.dump_traceback_later(TIMEOUT, exit=True)
                assert os.waitpid(pid, 0)[1] == 0
                print("parent thread ends")

            thread_terminate.Thread(target=run, terminate=stop.set).start()
        """, '-W', 'ignore::DeprecationWarning')
        self.assertEqual(out, ["child thread runs", "parent thread ends"])
        self.assertEqual(err, "")

    @requires_fork
    @requires_threads_at_exit  # and fork() too
    def test_child_forked_by_exit_thread_goes_on_exiting(self):
        # A child forked by the thread running the exit (here in a request)
        # goes on with that exit: the threads it starts ask themselves.
        out, err = self.run_script("""
            import faulthandler
            import os
            import threading

            def late():
                print("child thread asked" if late_stop.wait(TIMEOUT)
                      else "child thread timed out", flush=True)

            def terminate():
                faulthandler.cancel_dump_traceback_later()
                pid = os.fork()
                if pid == 0:
                    faulthandler.dump_traceback_later(TIMEOUT, exit=True)
                    thread_terminate.Thread(target=late,
                                            terminate=late_stop.set).start()
                    return  # and the child goes on with the exit
                faulthandler.dump_traceback_later(TIMEOUT, exit=True)
                status = os.waitpid(pid, 0)[1]
                print("child exit status:", status, flush=True)

            late_stop = threading.Event()
            thread_terminate.Thread(target=threading.Event().wait,
                                    daemon=True,
                                    terminate=terminate).start()
        """, '-W', 'ignore::DeprecationWarning')
        self.assertEqual(out, ["child thread asked", "child exit status: 0"])
        self.assertEqual(err, "")

    @requires_fork
    @requires_threads_at_exit  # and fork() too
    def test_child_forked_by_atexit_function_not_exiting(self):
        # A child forked once threading's shutdown is over (by an atexit
        # function) is not exiting: its threads run and are not asked.
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


if __name__ == '__main__':
    unittest.main()
