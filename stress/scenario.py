"""One randomized interpreter exit, for the shutdown torture suite.

usage: python scenario.py SEED LOG [REPORT_DELAY]

With REPORT_DELAY (run under -X dev), interpreter exit reports the threads
it still waits for after that many seconds (threading._EXIT_REPORT_DELAY),
as it does after five seconds in the development mode; run.py accepts the
report in the output.

The seed chooses a mix of actors; each logs what happens to it, one line
per event ("EVENT NAME"), appended to LOG with single os.write() calls so
that lines from several threads (and a forked child) never interleave.
run.py checks the log and the output once the process has exited.  The main
module then returns, and interpreter exit has to terminate and join the
actors that still run.

Events: "plan NAME KIND [option=value...]" is written before NAME starts
and says what is expected of it; "term NAME" each time NAME is asked to
terminate (its terminate= callback or __terminate__() ran, or for a
BackgroundThread, its task was cancelled); "start NAME" and "end NAME"
around the work; "cleanup NAME" when its cleanup ran to the end; "raise
NAME" just before a callback raises on purpose.
"""

import asyncio
import asyncio.threading
import atexit
import concurrent.futures
# Imported now, not lazily by asyncio.to_thread() in a BackgroundThread: a
# module that calls os.register_at_fork() while another thread is inside
# os.fork() gets its "after" functions called without its "before" ones.
# concurrent.futures.thread then releases its global lock held by another
# thread ("RuntimeError: release unlocked lock", seed 100295): an upstream
# race between fork and import, not the subject of this suite.
import concurrent.futures.thread
import gc
import os
import queue
import random
import signal
import sys
import threading
import warnings
import weakref

# Created now, in the main thread, not by the first BackgroundThread: a
# fork() while another thread creates the process's first event loop can
# copy asyncio.events._lock held, and the child's first event loop then
# waits for it forever (seed 300251 on the free-threaded build; also with
# plain threading.Thread(target=asyncio.run, ...) and without this change:
# 2 hangs in 300 runs of a thread calling asyncio.run() racing a fork).
# Another upstream race between fork and first use, not this suite's subject.
asyncio.get_event_loop_policy()

seed = int(sys.argv[1])
LOG_PATH = sys.argv[2]
if len(sys.argv) > 3:
    # The development mode's report of the threads that exit waits for,
    # written early and often: the reporting thread runs during the whole
    # exit, with its Ctrl-C, forks and late threads.  Without asyncio's
    # debug mode, which the development mode enables and which logs slow
    # callbacks.
    threading._EXIT_REPORT_DELAY = float(sys.argv[3])
    asyncio.coroutines._is_debug_mode = lambda: False
rng = random.Random(seed)
log_fd = os.open(LOG_PATH, os.O_WRONLY | os.O_APPEND)
names = iter(range(1000))


def log(*words):
    os.write(log_fd, (" ".join(map(str, words)) + "\n").encode())


def unraisablehook(unraisable):
    # One write per report: the default hook writes a report in pieces,
    # which interleave when threads report at the same time.
    exc = unraisable.exc_value
    where = (unraisable.err_msg
             or f"Exception ignored in: {unraisable.object!r}")
    # Ctrl-C can break a "with lock:" block in a callback (upstream: "with"
    # is not atomic with respect to signals), which then fails otherwise,
    # for instance "release unlocked lock" in Event.wait(): say so.
    interrupted = threading._keyboard_interrupt(exc.__context__)
    after = " (after KeyboardInterrupt)" if interrupted is not None else ""
    os.write(2, f"unraisable {type(exc).__name__}: {exc}{after} [{where}]\n"
                .encode())


sys.unraisablehook = unraisablehook


def new_name(kind):
    return f"{kind}{next(names)}"


def plan(name, kind, **options):
    log("plan", name, kind, *(f"{k}={v}" for k, v in sorted(options.items())))


# --- plain threads ---------------------------------------------------------

def plain_thread(late=0, daemon=None):
    """A thread waiting until asked to terminate, through terminate=.

    Its callback may raise once it has done its job, or start another
    thread (started during interpreter exit: it asks itself), and so may
    its cleanup (the thread is then asked once its starter has ended).
    *late* counts the threads that started it during exit: their callbacks
    are called outside the thread running the exit (by the thread itself,
    or by its starter as that ends), where a KeyboardInterrupt that one
    raises is not Ctrl-C but an error like another."""
    name = new_name("late" if late else "plain")
    if daemon is None:
        daemon = rng.random() < 0.2
    raises = rng.random() < 0.15
    error = (KeyboardInterrupt if late and rng.random() < 0.5
             else RuntimeError)
    spawns = late < 2 and rng.random() < 0.2
    spawns_on_end = late < 2 and not daemon and rng.random() < 0.15
    stop = threading.Event()

    def terminate():
        log("term", name)
        if spawns:
            plain_thread(late=late + 1, daemon=False)
        stop.set()
        if raises:
            log("raise", name)
            raise error(f"stress-raise {name}")

    def run():
        log("start", name)
        stop.wait()
        if spawns_on_end:
            # Started while interpreter exit joins the terminated threads.
            plain_thread(late=late + 1, daemon=False)
        log("cleanup", name)
        log("end", name)

    plan(name, "plain", daemon=int(daemon), raises=int(raises))
    thread = threading.Thread(target=run, terminate=terminate, daemon=daemon,
                              name=name)
    thread.start()
    return thread


class SubclassThread(threading.Thread):
    """A thread overriding __terminate__()."""

    def __init__(self, name, daemon):
        super().__init__(name=name, daemon=daemon)
        self.stop = threading.Event()

    def __terminate__(self):
        log("term", self.name)
        self.stop.set()

    def run(self):
        log("start", self.name)
        self.stop.wait()
        log("cleanup", self.name)
        log("end", self.name)


def subclass_thread():
    name = new_name("sub")
    daemon = rng.random() < 0.2
    plan(name, "plain", daemon=int(daemon), raises=0)
    thread = SubclassThread(name, daemon)
    thread.start()
    return thread


def short_thread():
    """A thread that ends by itself, maybe before exit, maybe during."""
    name = new_name("short")
    delay = rng.choice([0, 0.001, 0.01, 0.05])
    stop = threading.Event()

    def terminate():
        log("term", name)

    def run():
        log("start", name)
        stop.wait(delay)
        log("cleanup", name)
        log("end", name)

    plan(name, "short")
    threading.Thread(target=run, terminate=terminate, name=name).start()


# --- BackgroundThreads -------------------------------------------------------

def background_thread():
    """A BackgroundThread whose task waits until cancelled, then cleans up
    (maybe with await, maybe with asyncio.to_thread()); terminated before
    start, during start-up, while running, from its own loop, or at exit."""
    name = new_name("bg")
    when = rng.choice(["before-start", "startup", "running", "own-loop",
                       "exit", "exit", "exit"])
    to_thread = rng.random() < 0.3
    running = threading.Event()
    thread = None

    def sync_cleanup():
        log("to-thread", name)

    async def task():
        log("start", name)
        running.set()
        try:
            if when == "own-loop":
                for _ in range(rng.randrange(3)):
                    await asyncio.sleep(0)
                thread.terminate()
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            log("term", name)
            raise
        finally:
            await asyncio.sleep(0)
            if to_thread:
                await asyncio.to_thread(sync_cleanup)
            log("cleanup", name)

    plan(name, "bg", when=when, to_thread=int(to_thread))
    thread = asyncio.threading.BackgroundThread(task_target=task, name=name)
    if when == "before-start":
        thread.terminate()
    thread.start()
    if when == "startup":
        thread.terminate()
    elif when == "running":
        running.wait()
        thread.terminate()
    elif when == "own-loop":
        running.wait()
    return thread


def portal_calls():
    """A BackgroundThread without a task, with calls in flight at exit,
    made from the main thread and from an executor worker."""
    name = new_name("portal")
    calls = rng.randrange(1, 4)
    plan(name, "portal", calls=calls)
    thread = asyncio.threading.BackgroundThread(name=name)
    thread.start()
    started = threading.Semaphore(0)

    async def call(i):
        log("start", f"{name}.{i}")
        started.release()
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0)
            log("cleanup", f"{name}.{i}")

    def blocking_call(i):
        try:
            thread.run_coroutine_threadsafe(call(i)).result()
        except concurrent.futures.CancelledError:
            log("cancelled", f"{name}.{i}")

    # Not shut down: interpreter exit does it.  A worker per call, since
    # each blocks until the call ends.
    executor = concurrent.futures.ThreadPoolExecutor(calls)
    for i in range(calls):
        log("plan", f"{name}.{i}", "call")
        if rng.random() < 0.5:
            thread.run_coroutine_threadsafe(call(i))
        else:
            executor.submit(blocking_call, i)
    for _ in range(calls):
        started.acquire()


def logged_portal(name):
    """A started BackgroundThread whose task logs its start, its
    cancellation and its cleanup under *name*."""
    running = threading.Event()

    async def serve():
        log("start", name)
        running.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            log("term", name)
            raise
        finally:
            await asyncio.sleep(0)
            log("cleanup", name)

    portal = asyncio.threading.BackgroundThread(task_target=serve, name=name)
    portal.start()
    running.wait()
    return portal


async def noop():
    pass


def signal_portal():
    """A portal terminated by a signal handler, which runs between any two
    bytecodes of the main thread, here while it submits calls; the handler
    submits calls too."""
    name = new_name("sigportal")
    plan(name, "bg", when="signal", to_thread=0)
    portal = logged_portal(name)
    handled = 0
    limit = rng.randrange(1, 50)

    def handler(signum, frame):
        nonlocal handled
        handled += 1
        # A handler must not block (not wait for a call's result): the code
        # it interrupts may hold a lock the loop needs, such as a future's
        # while waiting for it (seeds 5000032, 6000075: a handler waiting
        # for a call's result inside another handler's wait).
        if handled < limit:
            try:
                portal.run_coroutine_threadsafe(noop())
                if handled % 8 == 0:
                    # Also where the main thread waits in get_loop().  Not
                    # each time: a handler slower than the timer's period
                    # is interrupted by the next one, without end.
                    portal.get_loop()
            except RuntimeError:
                pass  # terminated by a handler that interrupted this one
        else:
            portal.terminate()
            if join:
                # Interrupting get_loop(), maybe.
                portal.join()

    join = rng.random() < 0.5
    signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 0.0005, 0.0005)
    try:
        while True:
            portal.run_coroutine_threadsafe(noop())
            portal.get_loop()
    except RuntimeError:
        pass
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        # Not the previous handler (the default one): a signal that arrived
        # just before the timer stopped may still be pending, maybe tripped
        # in another thread, and CPython reports one that finds the default
        # handler as "Signal 14 ignored due to race condition" (seed
        # 12001225, free-threaded build).
        signal.signal(signal.SIGALRM, lambda signum, frame: None)


def finalizer_portal():
    """A portal terminated by a finalizer, run by the garbage collector at
    any allocation, while the main thread submits calls."""
    name = new_name("finportal")
    plan(name, "bg", when="finalizer", to_thread=0)
    portal = logged_portal(name)
    limit = rng.randrange(1, 50)
    collected = 0

    class Client:
        def __init__(self):
            self.cycle = self

        def __del__(self):
            nonlocal collected
            collected += 1
            if collected >= limit:
                portal.terminate()

    threshold = gc.get_threshold()
    gc.set_threshold(1)
    try:
        while True:
            Client()
            portal.run_coroutine_threadsafe(noop())
    except RuntimeError:
        pass
    finally:
        gc.set_threshold(*threshold)


def interrupted_terminate():
    """Ctrl-C inside terminate(), after the request was recorded but before
    it reached the loop: interpreter exit must still stop the thread."""
    name = new_name("intportal")
    plan(name, "bg", when="exit", to_thread=0)

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

    running = threading.Event()

    async def serve():
        log("start", name)
        running.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            log("term", name)
            raise
        finally:
            await asyncio.sleep(0)
            log("cleanup", name)

    portal = asyncio.threading.BackgroundThread(
        task_target=serve, name=name, loop_factory=loop_factory)
    portal.start()
    running.wait()
    loops[0].interrupt = True
    try:
        portal.terminate()
    except KeyboardInterrupt:
        pass


def portal_user():
    """A library's portal, then a thread whose exit-time cleanup uses it
    (the threading docs' worker pattern, with jobs that call the portal)."""
    name = new_name("portal")
    plan(name, "bg", when="exit", to_thread=0)
    portal = logged_portal(name)
    user = new_name("user")
    jobs = rng.randrange(1, 4)
    plan(user, "user", jobs=jobs)
    queued = queue.Queue()
    exiting = threading.Event()

    async def job(i):
        await asyncio.sleep(0)
        return i

    def run():
        log("start", user)
        exiting.wait()
        while (i := queued.get()) is not None:
            try:
                portal.run_coroutine_threadsafe(job(i)).result()
                log("served", user)
            except BaseException as exc:
                log("refused", user, type(exc).__name__)
        log("end", user)

    def terminate():
        log("term", user)
        queued.put(None)
        exiting.set()

    for i in range(jobs):
        queued.put(i)
    threading.Thread(target=run, terminate=terminate, name=user).start()


def lazy_client():
    """A thread whose cleanup creates a client (a portal) during exit: the
    portal serves it, and is terminated once the thread has ended."""
    name = new_name("lazy")
    plan(name, "lazy")
    stop = threading.Event()

    async def hello():
        return "hello"

    def run():
        log("start", name)
        stop.wait()
        portal_name = f"{name}.portal"
        plan(portal_name, "bg", when="exit", to_thread=0)
        portal = logged_portal(portal_name)
        try:
            portal.run_coroutine_threadsafe(hello()).result()
            log("served", name)
        except BaseException as exc:
            log("refused", name, type(exc).__name__)
        log("end", name)

    def terminate():
        log("term", name)
        stop.set()

    threading.Thread(target=run, terminate=terminate, name=name).start()


def producer_consumer():
    """A consumer started after its producer, which ends only once the
    producer was asked to stop: exit must not wait for it forever."""
    name = new_name("consumer")
    plan(name, "short")
    items = queue.Queue()
    stop = threading.Event()

    def produce():
        stop.wait()
        items.put(None)

    def consume():
        log("start", name)
        while items.get() is not None:
            pass
        log("cleanup", name)
        log("end", name)

    threading.Thread(target=produce, terminate=stop.set).start()
    threading.Thread(target=consume, terminate=lambda: None,
                     name=name).start()


def atexit_work():
    """An atexit function that starts a thread or a BackgroundThread and
    joins it: such threads belong to it and are not asked to stop."""
    name = new_name("atexit")
    plan(name, "atexit")

    async def task():
        await asyncio.sleep(0)
        log("end", name)

    def work():
        log("start", name)
        if rng.random() < 0.5:
            thread = asyncio.threading.BackgroundThread(task_target=task)
        else:
            thread = threading.Thread(target=log, args=("end", name),
                                      terminate=lambda: log("term", name))
        thread.start()
        thread.join()

    atexit.register(work)


# --- fork and subinterpreters ------------------------------------------------

def fork_child():
    """os.fork() with the actors alive: the child runs a BackgroundThread of
    its own and exits through a normal interpreter exit.  The parent's
    BackgroundThreads, which do not run in the child, refuse its calls at
    once."""
    name = new_name("fork")
    plan(name, "fork")
    warnings.filterwarnings("ignore", category=DeprecationWarning,
                            message=".*multi-threaded.*fork")
    portals = [thread for thread in threading.enumerate()
               if isinstance(thread, asyncio.threading.BackgroundThread)]
    pid = os.fork()
    if pid == 0:
        # The child: the other threads are gone.
        try:
            for portal in portals:
                try:
                    portal.run_coroutine_threadsafe(noop())
                except RuntimeError:
                    pass
                else:
                    log("child-error", name, "parent-portal-accepted-call")
            thread = asyncio.threading.BackgroundThread(name=name)
            thread.start()

            async def hello():
                return "hello"

            assert thread.run_coroutine_threadsafe(hello()).result() == "hello"
            log("child", name)
        except BaseException as exc:
            log("child-error", name, type(exc).__name__)
            raise
        # A normal exit, which terminates the BackgroundThread.
        sys.exit(0)
    _, status = os.waitpid(pid, 0)
    log("child-exit", name, os.waitstatus_to_exitcode(status))


def atexit_fork():
    """An atexit function that forks, as multiprocessing's fork context
    does: the child is not exiting, its threads are not asked to stop."""
    name = new_name("atfork")
    plan(name, "fork")

    def fork():
        warnings.filterwarnings("ignore", category=DeprecationWarning,
                                message=".*multi-threaded.*fork")
        pid = os.fork()
        if pid == 0:
            asked = []
            thread = threading.Thread(target=lambda: None,
                                      terminate=lambda: asked.append(1))
            thread.start()
            thread.join()
            log("child-error" if asked else "child", name)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        log("child-exit", name, os.waitstatus_to_exitcode(status))

    atexit.register(fork)


SUBINTERPRETER_CODE = """
import asyncio, asyncio.threading, os, threading
fd = os.open({log!r}, os.O_WRONLY | os.O_APPEND)
def log(*words):
    os.write(fd, (" ".join(map(str, words)) + "\\n").encode())
running = threading.Event()
async def task():
    log("start", {name!r})
    running.set()
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        log("term", {name!r})
        raise
    finally:
        await asyncio.sleep(0)
        log("cleanup", {name!r})
asyncio.threading.BackgroundThread(task_target=task).start()
running.wait()
"""


def subinterpreter():
    """A subinterpreter with a BackgroundThread, destroyed while the thread
    runs: ending the interpreter terminates the thread."""
    import _interpreters

    name = new_name("subinterp")
    plan(name, "bg", when="exit", to_thread=0)
    interp = _interpreters.create()
    _interpreters.run_string(
        interp, SUBINTERPRETER_CODE.format(log=LOG_PATH, name=name))
    _interpreters.destroy(interp)
    log("destroyed", name)


# --- the scenario ------------------------------------------------------------

def threaded_main():
    """A program whose work runs in a thread of its own, which the main
    thread leaves running: it runs during exit, where it starts and joins
    threads, which must not be kept once ended."""
    name = new_name("tmain")
    plan(name, "tmain")
    exiting = threading.Event()
    count = rng.randrange(1, 30)

    def run():
        log("start", name)
        exiting.wait()
        refs = []
        for i in range(count):
            thread = threading.Thread(target=noop().close,
                                      terminate=lambda: None)
            thread.start()
            thread.join()
            refs.append(weakref.ref(thread))
        del thread
        gc.collect()
        if alive := sum(ref() is not None for ref in refs):
            log("kept", name, alive)
        log("end", name)

    def terminate():
        log("term", name)
        exiting.set()

    threading.Thread(target=run, terminate=terminate, name=name).start()


def exiting_call():
    """A call that raises SystemExit in a portal stops its loop, as in
    asyncio.run(): the calls submitted meanwhile are cancelled, never left
    pending."""
    name = new_name("exitcall")
    plan(name, "exitcall")
    portal = asyncio.threading.BackgroundThread(name=name)
    portal.start()
    started = threading.Event()
    submitted = threading.Event()

    async def exit():
        started.set()
        submitted.wait()
        raise SystemExit

    exiting = portal.run_coroutine_threadsafe(exit())
    started.wait()
    # Started by the loop after SystemExit stopped it.
    later = portal.run_coroutine_threadsafe(noop())
    submitted.set()
    try:
        exiting.result()
        later.result()
    except (SystemExit, concurrent.futures.CancelledError):
        pass
    log("end", name)


def sentinel():
    """The first thread asked to terminate at exit (the most recently
    started): tells run.py, on
    stdout, that interpreter exit has started (the moment to send
    SIGINT)."""
    def terminate():
        os.write(1, b"exiting\n")

    stop = threading.Event()
    threading.Thread(target=stop.wait, terminate=terminate, daemon=True,
                     name="sentinel").start()


ACTORS = [
    (plain_thread, 6),
    (subclass_thread, 2),
    (short_thread, 2),
    (background_thread, 6),
    (portal_calls, 2),
    (signal_portal, 1),
    (finalizer_portal, 1),
    (interrupted_terminate, 1),
    (portal_user, 2),
    (lazy_client, 2),
    (producer_consumer, 0.5),
    (atexit_work, 1),
    (threaded_main, 1),
    (exiting_call, 0.5),
]

for _ in range(rng.randrange(1, 7)):
    actor = rng.choices([a for a, _ in ACTORS], [w for _, w in ACTORS])[0]
    actor()
if rng.random() < 0.05:
    subinterpreter()
if rng.random() < 0.05 and hasattr(os, "fork"):
    fork_child()
if rng.random() < 0.03 and hasattr(os, "fork"):
    atexit_fork()
# Started last, so asked first.
sentinel()
log("main-done")
