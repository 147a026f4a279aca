"""One randomized interpreter exit, for the shutdown torture suite.

usage: python scenario.py SEED LOG

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
import concurrent.futures
# Imported now, not lazily by asyncio.to_thread() in a BackgroundThread: a
# module that calls os.register_at_fork() while another thread is inside
# os.fork() gets its "after" functions called without its "before" ones.
# concurrent.futures.thread then releases its global lock held by another
# thread ("RuntimeError: release unlocked lock", seed 100295): an upstream
# race between fork and import, not the subject of this suite.
import concurrent.futures.thread
import os
import random
import sys
import threading
import warnings

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

def plain_thread(late=False, daemon=None):
    """A thread waiting until asked to terminate, through terminate=.

    Its callback may raise once it has done its job, or start another
    thread (started during interpreter exit: it must ask itself)."""
    name = new_name("late" if late else "plain")
    if daemon is None:
        daemon = rng.random() < 0.2
    raises = rng.random() < 0.15
    spawns = not late and rng.random() < 0.2
    spawns_on_end = not late and not daemon and rng.random() < 0.15
    stop = threading.Event()

    def terminate():
        log("term", name)
        if spawns:
            plain_thread(late=True, daemon=False)
        stop.set()
        if raises:
            log("raise", name)
            raise RuntimeError(f"stress-raise {name}")

    def run():
        log("start", name)
        stop.wait()
        if spawns_on_end:
            # Started while interpreter exit joins the terminated threads.
            plain_thread(late=True, daemon=False)
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


# --- fork and subinterpreters ------------------------------------------------

def fork_child():
    """os.fork() with the actors alive: the child runs a BackgroundThread of
    its own and exits through a normal interpreter exit."""
    name = new_name("fork")
    plan(name, "fork")
    warnings.filterwarnings("ignore", category=DeprecationWarning,
                            message=".*multi-threaded.*fork")
    pid = os.fork()
    if pid == 0:
        # The child: the other threads are gone.
        try:
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

def sentinel():
    """The first thread asked to terminate at exit: tells run.py, on
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
]

sentinel()
for _ in range(rng.randrange(1, 7)):
    actor = rng.choices([a for a, _ in ACTORS], [w for _, w in ACTORS])[0]
    actor()
if rng.random() < 0.05:
    subinterpreter()
if rng.random() < 0.05 and hasattr(os, "fork"):
    fork_child()
log("main-done")
