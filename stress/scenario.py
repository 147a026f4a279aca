"""One randomized interpreter exit, for the shutdown torture suite.

usage: python scenario.py SEED LOG [dev]

With "dev" (run under -X dev), interpreter exit reports the threads it still
waits for at its deadline (threading._EXIT_TIMEOUT, 5 s), which some actors
reach (an executor job blocked on a portal, a request made while a thread
starts up); run.py accepts the report in the output.

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
NAME" just before a callback raises on purpose (exit asks such a thread
again, with the services); "served NAME" for each call or record served,
"refused NAME ERROR" for one that was not.  A last word "@T" is the
time.monotonic() of the event, for the exit-time bounds that run.py checks.
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
import time
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
    # The development mode, without asyncio's debug mode, which it enables
    # and which logs slow callbacks.
    asyncio.coroutines._is_debug_mode = lambda: False
rng = random.Random(seed)
log_fd = os.open(LOG_PATH, os.O_WRONLY | os.O_APPEND)
names = iter(range(1000))


def log(*words):
    os.write(log_fd, (" ".join(map(str, words)) + "\n").encode())


def at():
    return f"@{time.monotonic():.6f}"


# Set by the first request of the exit (see sentinel()): actors whose work
# runs after the main module returned wait for it.
EXITING = threading.Event()


def keyboard_interrupt(exc):
    """Whether *exc* is, or was raised while handling, a KeyboardInterrupt:
    Ctrl-C may surface as another exception, for instance when it broke the
    "with lock:" block of a callback."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__context__
    return False


def unraisablehook(unraisable):
    # One write per report: the default hook writes a report in pieces,
    # which interleave when threads report at the same time.
    exc = unraisable.exc_value
    where = (unraisable.err_msg
             or f"Exception ignored in: {unraisable.object!r}")
    # Ctrl-C can break a "with lock:" block in a callback (upstream: "with"
    # is not atomic with respect to signals), which then fails otherwise,
    # for instance "release unlocked lock" in Event.wait(): say so.
    interrupted = keyboard_interrupt(exc.__context__)
    after = " (after KeyboardInterrupt)" if interrupted else ""
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

    Its callback may raise once it has done its job (exit then asks it
    again with the services, if it still runs), or start another thread,
    and so may its cleanup: started during interpreter exit, a thread asks
    itself as it starts.  *late* counts the threads that started it during
    exit: the first request to such a thread is its own, where a
    KeyboardInterrupt that the callback raises is not Ctrl-C but an error
    like another (made again by the thread running the exit, the request
    raises RuntimeError: a KeyboardInterrupt there would be Ctrl-C)."""
    name = new_name("late" if late else "plain")
    if daemon is None:
        daemon = rng.random() < 0.2
    raises = rng.random() < 0.15
    interrupts = late and rng.random() < 0.5
    spawns = late < 2 and rng.random() < 0.2
    spawns_on_end = late < 2 and not daemon and rng.random() < 0.15
    stop = threading.Event()
    thread = None

    def terminate():
        log("term", name)
        if spawns:
            plain_thread(late=late + 1, daemon=False)
        stop.set()
        if raises:
            log("raise", name)
            own = threading.current_thread() is thread
            error = KeyboardInterrupt if interrupts and own else RuntimeError
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
    # At exit, a BackgroundThread serves the other threads and executor jobs
    # until they are done, so executors have shut down when its cleanup runs:
    # asyncio.to_thread() is for threads terminated before (documented).
    to_thread = when != "exit" and rng.random() < 0.3
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
    # Started during exit once the services were asked (after Ctrl-C), it
    # asks itself and never runs its task.
    while not running.wait(0.05) and portal.is_alive():
        pass
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
    """A thread whose exit-time cleanup drains its queued jobs through a
    portal (the threading docs' worker pattern, with jobs that call a
    portal), started before it or created lazily by its first job, during
    exit, as adoption/fsspec_background.py does: the portal, a service,
    serves every job (issue 22, item 3)."""
    name = new_name("portal")
    lazy = rng.random() < 0.4
    portal = None
    if not lazy:
        plan(name, "bg", when="exit", to_thread=0)
        portal = logged_portal(name)
    user = new_name("user")
    jobs = rng.randrange(1, 31)
    delay = rng.choice([0, 0.005, 0.02])
    plan(user, "user", jobs=jobs, lazy=int(lazy))
    queued = queue.Queue()
    exiting = threading.Event()

    async def job(i):
        await asyncio.sleep(delay)
        return i

    def run():
        nonlocal portal
        log("start", user)
        exiting.wait()
        while (i := queued.get()) is not None:
            if portal is None:
                plan(name, "bg", when="exit", to_thread=0)
                portal = logged_portal(name)
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
    portal, a service started during exit, serves it, and is asked once
    the thread has ended."""
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
    joins it: such threads are not asked to stop (exit is over).  Maybe it
    first submits a call to a portal started before exit, stopped by now:
    refused at once (documented; issue 22, item 5), not left pending."""
    name = new_name("atexit")
    background = rng.random() < 0.5
    portal = None
    if rng.random() < 0.3:
        plan(f"{name}.portal", "bg", when="exit", to_thread=0)
        portal = logged_portal(f"{name}.portal")
    plan(name, "atexit", portal=int(portal is not None))

    async def task():
        await asyncio.sleep(0)
        log("end", name)

    def work():
        log("start", name)
        if portal is not None:
            try:
                portal.run_coroutine_threadsafe(noop())
            except RuntimeError:
                log("refused", name)
            else:
                log("accepted", name)
        if background:
            thread = asyncio.threading.BackgroundThread(task_target=task)
        else:
            thread = threading.Thread(target=log, args=("end", name),
                                      terminate=lambda: log("term", name))
        thread.start()
        thread.join()

    atexit.register(work)


# --- the exit order: services last, one deadline (issue 22) ------------------

async def served(delay=0):
    await asyncio.sleep(delay)
    return True


def call_portal(name, portal, raw=False, delay=0):
    """One call through *portal* from a client thread, with its
    run_coroutine_threadsafe() or, *raw*, with
    asyncio.run_coroutine_threadsafe() on its get_loop(), whose call is
    lost if the loop closes meanwhile (issue 22, item 6).  Logs "served
    NAME" or "refused NAME ERROR"."""
    coro = served(delay)
    try:
        if raw:
            future = asyncio.run_coroutine_threadsafe(coro, portal.get_loop())
        else:
            future = portal.run_coroutine_threadsafe(coro)
        future.result()
    except BaseException as exc:
        coro.close()
        log("refused", name, type(exc).__name__)
    else:
        log("served", name)


def gated_executor():
    """An executor whose one worker waits until exit begins: the jobs
    submitted to it are queued at exit.  Not shut down: exit does it."""
    executor = concurrent.futures.ThreadPoolExecutor(1)
    executor.submit(EXITING.wait)
    return executor


def worker_pool():
    """Workers sharing one job queue, each asked to stop by a sentinel put
    on it (terminate=lambda: jobs.put(None), the threading docs' example):
    every worker gets its own request, also once another one has ended,
    and every job queued before exit is done (issue 22, item 0)."""
    name = new_name("pool")
    workers = rng.randrange(2, 9)
    count = rng.randrange(20)
    plan(name, "pool", jobs=count)
    jobs = queue.Queue()

    def work(worker):
        log("start", worker)
        while (job := jobs.get()) is not None:
            time.sleep(job)
            log("served", name)
        log("cleanup", worker)
        log("end", worker)

    def ask(worker):
        log("term", worker)
        jobs.put(None)

    for i in range(workers):
        worker = f"{name}.{i}"
        plan(worker, "worker")
        threading.Thread(target=work, args=(worker,), name=worker,
                         terminate=lambda worker=worker: ask(worker)).start()
    for _ in range(count):
        jobs.put(rng.choice([0, 0.001, 0.005]))


def slow_pool():
    """Independent threads that each need DELAY to stop: workers
    (terminate=stop.set) finishing a job, or BackgroundThreads whose
    cleanup is a close handshake.  Exit asks them all at once, so that
    they stop in about DELAY, not COUNT * DELAY (issue 22, item 7): run.py
    bounds the time from the start of exit (workers) or from the first
    cancellation (loops, asked once the other threads are done) to the
    last stop."""
    name = new_name("slow")
    count = rng.randrange(8, 17)
    delay = rng.choice([0.3, 0.4, 0.5])
    loops = rng.random() < 0.4
    plan(name, "slow", count=count, delay=delay, loops=int(loops))
    for i in range(count):
        member = f"{name}.{i}"
        if loops:
            running = threading.Event()

            async def close(member=member, running=running):
                log("start", member)
                running.set()
                try:
                    await asyncio.Event().wait()
                except asyncio.CancelledError:
                    log("term", member, at())
                    raise
                finally:
                    await asyncio.sleep(delay)
                    log("stopped", name, at())
                    log("cleanup", member)

            plan(member, "bg", when="exit", to_thread=0)
            asyncio.threading.BackgroundThread(close, name=member).start()
            running.wait()
        else:
            stop = threading.Event()

            def work(member=member, stop=stop):
                log("start", member)
                stop.wait()
                time.sleep(delay)
                log("stopped", name, at())
                log("cleanup", member)
                log("end", member)

            def ask(member=member, stop=stop):
                log("term", member, at())
                stop.set()

            plan(member, "plain", daemon=0, raises=0)
            threading.Thread(target=work, terminate=ask, name=member).start()


def portal_clients():
    """A library's portal used once the main module has returned by plain
    non-daemon threads (no terminate=) and by executor jobs queued at exit,
    some through asyncio.run_coroutine_threadsafe(coro, portal.get_loop()):
    the portal, a service, is asked only once they are done, so every call
    is served (issue 22, items 1, 2 and 6)."""
    name = new_name("clients")
    portal_name = f"{name}.portal"
    plan(portal_name, "bg", when="exit", to_thread=0)
    portal = logged_portal(portal_name)
    threads = rng.randrange(3)
    per_thread = rng.randrange(1, 11)
    jobs = rng.randrange(0 if threads else 1, 7)
    raw = [rng.random() < 0.3 for _ in range(threads * per_thread + jobs)]
    plan(name, "clients", calls=len(raw))

    def client(raws):
        EXITING.wait()
        for r in raws:
            call_portal(name, portal, r, 0.001)

    for i in range(threads):
        threading.Thread(
            target=client,
            args=(raw[i * per_thread:(i + 1) * per_thread],)).start()
    executor = gated_executor()
    for r in raw[threads * per_thread:]:
        executor.submit(call_portal, name, portal, r, 0.001)


def shared_client():
    """A client shared by several threads and created by the first that
    needs it, here during exit: by the cleanup of a worker
    (terminate=stop.set), or by an executor job, which then blocks on it.
    The client is a portal and maybe a heartbeat thread whose cleanup says
    goodbye through the portal: started during exit, the heartbeat asks
    itself at once, and the portal, a service, serves the goodbye and
    every other call (issue 22, items 4 and 8)."""
    name = new_name("shared")
    users = rng.randrange(3)
    jobs = rng.randrange(0 if users else 1, 4)
    heartbeat = rng.random() < 0.5
    early = rng.random() < 0.2
    raw = [rng.random() < 0.3 for _ in range(users + jobs + heartbeat)]
    plan(name, "clients", calls=len(raw), early=int(early))
    lock = threading.Lock()
    client = None

    def get_client():
        nonlocal client
        with lock:
            if client is None:
                portal_name = f"{name}.portal"
                plan(portal_name, "bg", when="exit", to_thread=0)
                client = logged_portal(portal_name)
                if heartbeat:
                    start_heartbeat(client)
            return client

    def start_heartbeat(portal):
        beat = f"{name}.beat"
        stop = threading.Event()

        def run():
            log("start", beat)
            stop.wait()
            call_portal(name, portal, raw[-1])
            log("cleanup", beat)
            log("end", beat)

        def ask():
            log("term", beat)
            stop.set()

        plan(beat, "plain", daemon=0, raises=0, late=int(not early))
        threading.Thread(target=run, terminate=ask, name=beat).start()

    def use(i, stop=None):
        if stop is not None:
            log("start", f"{name}.{i}")
            stop.wait()
        call_portal(name, get_client(), raw[i])
        if stop is not None:
            log("cleanup", f"{name}.{i}")
            log("end", f"{name}.{i}")

    if early:
        get_client()
    for i in range(users):
        stop = threading.Event()
        user = f"{name}.{i}"
        plan(user, "plain", daemon=0, raises=0)
        threading.Thread(
            target=use, args=(i, stop), name=user,
            terminate=lambda user=user, stop=stop: (log("term", user),
                                                    stop.set())).start()
    executor = gated_executor()
    for i in range(users, users + jobs):
        executor.submit(use, i)


def stop_loop(thread):
    # A request that needs what run() sets up: AttributeError before.
    log("term", thread.name)
    try:
        loop = thread.loop
    except AttributeError:
        log("raise", thread.name)
        raise
    loop.call_soon_threadsafe(loop.stop)


class StartupLoopThread(threading.Thread):
    """A hand-written event loop thread, whose run() creates self.loop
    once it has started up, and whose __terminate__() stops it."""

    def __init__(self, name, delay, **kwargs):
        super().__init__(name=name, **kwargs)
        self.delay = delay

    def run(self):
        log("start", self.name)
        EXITING.wait()
        time.sleep(self.delay)  # still starting up when exit asks
        self.loop = asyncio.new_event_loop()
        self.loop.run_forever()
        self.loop.close()
        log("cleanup", self.name)
        log("end", self.name)


class StartupLoopMethod(StartupLoopThread):
    def __terminate__(self):
        stop_loop(self)


def startup_loop():
    """A hand-written loop thread asked to terminate while it still starts
    up, before its run() created the loop that its request stops: the
    request fails, and the one made again with the rest, at the deadline at
    the latest, stops it (issue 22, item 9).  The request is an overriding
    __terminate__(), a terminate= callable, or a __terminate__ assigned on
    the instance, which exit looks up there (and so waits for the
    thread)."""
    name = new_name("startup")
    how = rng.choice(["method", "terminate", "instance"])
    delay = rng.choice([0, 0.001, 0.05])
    plan(name, "startup", how=how)
    if how == "method":
        thread = StartupLoopMethod(name, delay)
    elif how == "terminate":
        thread = StartupLoopThread(name, delay,
                                   terminate=lambda: stop_loop(thread))
    else:
        thread = StartupLoopThread(name, delay)
        thread.__terminate__ = lambda: stop_loop(thread)
    thread.start()


def log_service():
    """A logging-like service: a Thread(service=True) writing the records
    that a queue feeds it, whose terminate= puts a sentinel, used by the
    cleanups of workers (terminate=stop.set), by plain threads that outlive
    the main module and by executor jobs queued at exit: asked once they
    are done, it writes every record."""
    name = new_name("svc")
    users = rng.randrange(3)
    plain = rng.randrange(2)
    jobs = rng.randrange(0 if users + plain else 1, 4)
    per = rng.randrange(1, 6)
    slow = rng.choice([0, 0.001, 0.01])
    plan(name, "service", records=(users + plain + jobs) * per)
    records = queue.Queue()

    def serve():
        log("start", name)
        while records.get() is not None:
            time.sleep(slow)
            log("served", name)
        log("cleanup", name)
        log("end", name)

    def ask():
        log("term", name)
        records.put(None)

    def emit(stop=None, user=None):
        if stop is not None:
            log("start", user)
            stop.wait()
        elif user is not None:
            EXITING.wait()
        for _ in range(per):
            records.put(0)
        if stop is not None:
            log("cleanup", user)
            log("end", user)

    threading.Thread(target=serve, terminate=ask, service=True,
                     name=name).start()
    for i in range(users):
        user = f"{name}.{i}"
        stop = threading.Event()
        plan(user, "plain", daemon=0, raises=0)
        threading.Thread(
            target=emit, args=(stop, user), name=user,
            terminate=lambda user=user, stop=stop: (log("term", user),
                                                    stop.set())).start()
    for i in range(plain):
        threading.Thread(target=emit, args=(None, f"{name}.p{i}")).start()
    executor = gated_executor()
    for _ in range(jobs):
        executor.submit(emit)


def shutdown_pipeline():
    """A queue.Queue pipeline whose producer is asked with
    terminate=stop.set and whose consumers with terminate=items.shutdown,
    started in either order: shutdown() lets the consumers drain what was
    put, so nothing put is lost, whatever the order of the requests (issue
    22, item 8)."""
    name = new_name("pipe")
    consumers = rng.randrange(1, 4)
    count = rng.randrange(1, 60)
    pause = rng.choice([0, 0.001])
    producer_first = rng.random() < 0.5
    plan(name, "pipe")
    items = queue.Queue()
    stop = threading.Event()

    def produce():
        for i in range(count):
            if stop.is_set():
                break
            try:
                items.put(i)
            except queue.ShutDown:
                break
            log("put", name)
            time.sleep(pause)
        stop.wait()

    def consume():
        while True:
            try:
                items.get()
            except queue.ShutDown:
                break
            time.sleep(pause)
            log("got", name)

    producer = threading.Thread(target=produce, terminate=stop.set)
    if producer_first:
        producer.start()
    for _ in range(consumers):
        threading.Thread(target=consume, terminate=items.shutdown).start()
    if not producer_first:
        producer.start()


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
    """The first thread asked to terminate at exit (exit asks the threads
    all at once, in the order in which they started running, and this one
    starts first): logs when exit began, sets EXITING, and tells run.py, on
    stdout, that interpreter exit has started (the moment to send
    SIGINT)."""
    def terminate():
        log("exiting", at())
        EXITING.set()
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
    (worker_pool, 2),
    (slow_pool, 1),
    (portal_clients, 2),
    (shared_client, 2),
    (startup_loop, 0.7),
    (log_service, 1.5),
    (shutdown_pipeline, 0.5),
]

# Started first, so asked first.
sentinel()
for _ in range(rng.randrange(1, 7)):
    actor = rng.choices([a for a, _ in ACTORS], [w for _, w in ACTORS])[0]
    actor()
if rng.random() < 0.05:
    subinterpreter()
if rng.random() < 0.05 and hasattr(os, "fork"):
    fork_child()
if rng.random() < 0.03 and hasattr(os, "fork"):
    atexit_fork()
log("main-done")
