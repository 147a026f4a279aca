"""Thread termination at exit, on interpreters without the upstream change.

Upstream, threading._shutdown() asks the other threads to terminate before
anything else.  Here the request step is a threading._register_atexit()
callback: threading._shutdown() calls those before it joins the non-daemon
threads, in reverse order of registration.  concurrent.futures.thread
registers one that shuts down the executors; it is imported first, so that
the step runs before it: a terminated thread's cleanup can still use
executors (and asyncio.to_thread()), and an executor worker blocked on a
terminated thread is released before the executors are joined.

The order rule is the upstream one.  Threads are asked one at a time, most
recently started first.  After asking a non-daemon thread that accepts
termination (it has a terminate callback, or its class overrides
__terminate__), the step waits up to _GRACE seconds for it to end before
asking the next.  Once every thread was asked, it waits for the asked
threads that accept termination to end.  A thread started during the exit
by a non-daemon thread belongs to it and is asked once it has ended; one
started by the thread running the step, by a daemon thread, or by a
__terminate__() method that the step or a thread asking itself calls, asks
itself when it starts; threads started by atexit functions are never asked.

Threads do not tell when they start or end.  While the interpreter exits,
threading.Thread.start is wrapped to see threads start, and the ends of
threads are polled: by the step for the threads it waits for, and by a
thread of its own, the monitor, for the threads that own others.
"""

import atexit
import os
import sys
import threading
import time

# The attribute that keeps the terminate callback: the name that
# Thread.__init__ gives it upstream (self.__terminate_callback, name-mangled).
_CALLBACK = '_Thread__terminate_callback'

# How long the step waits for a thread it asked before it asks the next.
_GRACE = 1.0
# How often the step looks at threads it waits for (thread ends are polled).
_POLL = 0.05


class Thread(threading.Thread):
    """A threading.Thread that can be asked to terminate.

    The same as threading.Thread, plus the keyword-only *terminate*
    parameter: a callable, called without arguments by the default
    __terminate__() method to ask the thread to stop, notably at interpreter
    exit.  On Python versions that have these, this is threading.Thread.
    """

    def __init__(self, group=None, target=None, name=None,
                 args=(), kwargs=None, *, daemon=None, terminate=None):
        if terminate is not None and not callable(terminate):
            raise TypeError("terminate must be callable or None")
        super().__init__(group=group, target=target, name=name,
                         args=args, kwargs=kwargs, daemon=daemon)
        # Name-mangled, as upstream: subclasses commonly have a "terminate"
        # method or a "_terminate" attribute of their own.
        self.__terminate_callback = terminate

    def __terminate__(self):
        """Ask the thread to stop.

        Called at interpreter exit, before non-daemon threads are joined, on
        every thread other than the one running the shutdown.  The default
        implementation calls the *terminate* callable given to the
        constructor, if any, and otherwise does nothing.  It must not block:
        it is a request, and the thread is joined afterwards as usual.
        """
        if self.__terminate_callback is not None:
            self.__terminate_callback()

    if not hasattr(threading.Thread, '_after_fork'):
        # Before 3.13, threading's fork handler calls
        # _reset_internal_locks(is_alive) on each thread; 3.13 calls
        # _after_fork(new_ident), which BackgroundThread extends (a thread
        # of the parent refuses calls in the child).
        def _reset_internal_locks(self, is_alive):
            super()._reset_internal_locks(is_alive)
            self._after_fork(threading.get_ident() if is_alive else None)

        def _after_fork(self, new_ident=None):
            pass


def _accepts(thread):
    # True if a request can be expected to stop the thread, so that the step
    # waits for it (upstream: Thread._accepts_termination()).
    if thread.__dict__.get(_CALLBACK) is not None:
        return True
    method = getattr(type(thread), '__terminate__', None)
    return method is not None and method is not Thread.__terminate__


def _waitable(thread):
    try:
        return not thread.daemon and _accepts(thread)
    except Exception:
        return False


def _done(thread):
    return thread._started.is_set() and not thread.is_alive()


def _call_terminate(thread):
    if getattr(type(thread), '__terminate__', None) is not None:
        thread.__terminate__()
    else:
        # A thread of a class without __terminate__, given a callback by
        # register().
        callback = thread.__dict__.get(_CALLBACK)
        if callback is not None:
            callback()


def _keyboard_interrupt(exc):
    """Return the KeyboardInterrupt that *exc* is, or was raised while
    handling, or None: Ctrl-C may surface as another exception, for instance
    when it broke the "with lock:" block of a __terminate__() method."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return exc
        seen.add(id(exc))
        exc = exc.__context__
    return None


# --- reporting through sys.unraisablehook ------------------------------

class _Probe(Exception):
    pass


class _RaiseInDel:
    def __init__(self, exc):
        self.exc = exc

    def __del__(self):
        raise self.exc


_unraisable_args_type = None


def _unraisable_args(exc_value, err_msg, obj):
    """Return the argument of sys.unraisablehook for these values.

    The default hook only accepts its own argument type, which Python code
    cannot name: get the type from one exception reported by C code (a
    __del__ method that raises), and build the argument with it.
    """
    global _unraisable_args_type
    if _unraisable_args_type is None:
        probe = _Probe()
        previous = sys.unraisablehook
        captured = []

        def capture(unraisable):
            if unraisable.exc_value is probe:
                captured.append(type(unraisable))
            else:
                previous(unraisable)

        sys.unraisablehook = capture
        try:
            _RaiseInDel(probe)
        finally:
            if sys.unraisablehook is capture:
                sys.unraisablehook = previous
        _unraisable_args_type = captured[0]
    return _unraisable_args_type((type(exc_value), exc_value,
                                  exc_value.__traceback__, err_msg, obj))


def _report(exc, thread):
    """Report an exception raised by a termination request."""
    # The message of upstream's PyErr_FormatUnraisable() call.
    try:
        args = _unraisable_args(
            exc, f"Exception ignored while asking {thread!r} to terminate",
            None)
    except Exception:
        sys.excepthook(type(exc), exc, exc.__traceback__)
        return
    try:
        sys.unraisablehook(args)
    except Exception:
        # As C code does when the hook fails.
        sys.__unraisablehook__(args)


# --- the exit step -----------------------------------------------------

class _Exit:
    """The state of this process's exit."""

    def __init__(self):
        self.pid = os.getpid()
        self.ident = threading.get_ident()  # the thread running the step
        self.running = True       # the step has not returned
        self.done = False         # threading._shutdown() is over: atexit
        self.waiting = True       # the step may still wait (no Ctrl-C yet)
        self.interrupt = None     # the first KeyboardInterrupt
        self.asked = set()        # threads asked, each at most once
        self.completed = set()    # asked, and Ctrl-C did not interrupt it
        self.retried = set()      # asked again after Ctrl-C interrupted it
        self.order = []           # the asked threads, in order
        self.owned = {}           # owner -> threads it started during exit
        self.owned_all = set()
        self.self_asking = set()  # started during exit: ask themselves
        self.requesters = set()   # threads running a __terminate__() call
        self.never = set()        # started by atexit functions
        self.internal = set()     # the monitor: never asked
        self.monitoring = False   # the monitor runs
        self.queue = []           # threads the step asks next
        self.scans = 0            # snapshots of the threads taken


# Guards the _Exit state.  Reentrant, so that a signal handler that starts
# a thread while the same thread holds it does not deadlock; it is never
# held while user code runs.
_lock = threading.RLock()
_exit = None
# The threading._register_atexit() callbacks registered before the step:
# its index in threading._threading_atexits.
_index = None
_start = threading.Thread.start


def _current_exit():
    state = _exit
    if state is not None and state.pid == os.getpid():
        return state
    return None


def _start_during_exit(self):
    """threading.Thread.start while the interpreter exits."""
    state = _current_exit()
    if state is None:
        return _start(self)
    starter = threading.current_thread()
    monitor = False
    with _lock:
        if (state.done or starter in state.never
                or (starter.ident == state.ident and not state.running)):
            # Started by an atexit function (or by a thread it started), or
            # after an explicit threading._shutdown() call: it belongs to
            # its starter, which may join it.
            mode = state.never
        elif (starter.ident == state.ident or starter.daemon
              or starter in state.internal or starter in state.requesters):
            # Nothing waits for the starter, or it is asking a thread to
            # terminate (and may join what it starts): the thread asks
            # itself as soon as it runs, so that it cannot hang exit.
            mode = state.self_asking
        else:
            # Started by a thread that exit waits for, maybe its cleanup (a
            # client created lazily): the thread serves it, and is asked
            # once it has ended.
            mode = state.owned_all
            state.owned.setdefault(starter, []).append(self)
            monitor = not state.monitoring
            state.monitoring = True
        mode.add(self)
    if monitor and not _start_monitor(state):
        # No thread to ask it later: it asks itself.
        with _lock:
            state.monitoring = False
            state.owned[starter].remove(self)
            if not state.owned[starter]:
                del state.owned[starter]
            state.owned_all.discard(self)
            mode = state.self_asking
            mode.add(self)
    if mode is state.self_asking:
        self.run = _asking_run(self)
    elif mode is state.owned_all:
        self.run = _owned_run(self, starter)
    try:
        return _start(self)
    except BaseException:
        with _lock:
            mode.discard(self)
            if self in state.owned.get(starter, ()):
                state.owned[starter].remove(self)
        if mode is not state.never:
            del self.run
        raise


def _owned_run(thread, owner):
    # The run() of a thread owned by *owner*: once it has ended, it is not
    # kept (a program whose work runs in a thread during exit may start and
    # join any number of threads).
    run = thread.run

    def owned_run():
        del thread.run
        try:
            run()
        finally:
            state = _current_exit()
            if state is not None:
                with _lock:
                    threads = state.owned.get(owner)
                    if threads is not None and thread in threads:
                        threads.remove(thread)
                    state.owned_all.discard(thread)

    return owned_run


def _asking_run(thread):
    # The run() of a thread that asks itself: the request comes from its own
    # thread (its starter may hold a lock that __terminate__() needs), once
    # it is registered as running, before it runs.
    run = thread.run

    def asking_run():
        del thread.run
        _ask_self(thread)
        run()

    return asking_run


def _ask_self(thread):
    state = _current_exit()
    if state is None:
        return
    with _lock:
        state.self_asking.discard(thread)
    _ask(state, thread)


def _start_monitor(state):
    # Not a daemon thread: subinterpreters may refuse those, or abort when
    # one is left.  It ends once the owners, non-daemon threads that exit
    # joins anyway, have ended.
    try:
        monitor = threading.Thread(target=_monitor, args=(state,),
                                   name="thread_terminate exit monitor")
        with _lock:
            state.internal.add(monitor)
        _start(monitor)
    except RuntimeError:
        return False  # no more threads (the interpreter is finalizing)
    return True


def _monitor(state):
    """Ask the threads started during exit once their owner has ended."""
    while state.pid == os.getpid():
        for thread in _owned_ready(state):
            if not _done(thread):
                _ask(state, thread)
        with _lock:
            if not state.owned:
                state.monitoring = False
                return
        time.sleep(_POLL)


def _owned_ready(state):
    """Take the threads whose owner ended, most recently started first."""
    with _lock:
        owners = list(state.owned)
    ended = [owner for owner in owners if _done(owner)]
    ready = []
    with _lock:
        for owner in ended:
            threads = state.owned.pop(owner, ())
            state.owned_all.difference_update(threads)
            ready.extend(threads)
    return ready[::-1]


def _ask(state, thread, again=False):
    """Ask *thread* to terminate, unless it was asked before (or *again*)."""
    with _lock:
        if thread in state.asked and not again:
            return
        if thread not in state.asked:
            state.asked.add(thread)
            state.order.append(thread)
    interrupted = False
    requester = threading.current_thread()
    with _lock:
        state.requesters.add(requester)
    try:
        _call_terminate(thread)
    except BaseException as exc:
        # Ctrl-C only reaches the main thread, which runs the step:
        # elsewhere a KeyboardInterrupt is an error like another.
        interrupt = (_keyboard_interrupt(exc)
                     if requester.ident == state.ident else None)
        if interrupt is not exc:
            _report(exc, thread)
        if interrupt is not None:
            # The request may be incomplete: the step makes it again, once,
            # or an executor worker blocked on the thread would keep the
            # executors' shutdown waiting.
            interrupted = True
            state.waiting = False
            if state.interrupt is None:
                state.interrupt = interrupt
    finally:
        # With no call in between where Ctrl-C could land.
        if not interrupted:
            state.completed.add(thread)
        with _lock:
            state.requesters.discard(requester)


def _to_ask(state, thread):
    return (thread.ident != state.ident
            and thread not in state.asked
            and thread not in state.never
            and thread not in state.internal
            and thread not in state.self_asking
            and thread not in state.owned_all
            and not _done(thread))


def _snapshot(state):
    """The threads to ask, most recently started first."""
    with threading._active_limbo_lock:
        threads = list(threading._active.values()) + list(threading._limbo)
    return [thread for thread in reversed(threads) if _to_ask(state, thread)]


def _wait(thread, timeout):
    """Wait up to *timeout* seconds for *thread* to end; False if it will
    not be waited for."""
    if not thread._started.is_set():
        # Still starting: in threading._limbo until it runs.
        if thread not in threading._limbo:
            return False
        thread._started.wait(timeout)
        return True
    thread.join(timeout)
    return True


def _pending(state):
    """Whether threads not asked yet will soon be asked and waited for."""
    with _lock:
        owners = list(state.owned)
        starting = list(state.self_asking)
    return (any(_done(owner) for owner in owners)
            or any(_waitable(thread) and not _done(thread)
                   for thread in starting))


def _run_step(state):
    queue = state.queue
    cursor = 0
    while state.pid == os.getpid():  # else forked by a __terminate__()
        if not queue and state.scans < 2:
            # The threads at the start of the step, then those that started
            # while it began, before it could see them start.
            state.scans += 1
            queue.extend(_snapshot(state))
        if queue:
            thread = queue[0]
            # A request that Ctrl-C interrupted (in the call, or before it
            # began) is made again, once, as threading._shutdown() does.
            again = (thread in state.asked
                     and thread not in state.completed
                     and thread not in state.retried
                     and not _done(thread))
            if again:
                state.retried.add(thread)
            if again or _to_ask(state, thread):
                _ask(state, thread, again)
                if thread not in state.completed and not again:
                    continue  # interrupted: asked again
                if state.waiting and _waitable(thread):
                    deadline = time.monotonic() + _GRACE
                    while not _done(thread):
                        remaining = deadline - time.monotonic()
                        if remaining <= 0 or not _wait(thread, remaining):
                            break
            # Taken off the queue only once asked: after Ctrl-C, the step
            # goes on from here.
            del queue[0]
            continue
        if not state.waiting:
            return
        # Every thread was asked: wait for those that accept termination,
        # including the threads asked meanwhile by themselves or the monitor.
        order = state.order
        while cursor < len(order) and (not _waitable(order[cursor])
                                       or _done(order[cursor])):
            cursor += 1
        if cursor < len(order):
            if not _wait(order[cursor], _POLL):
                cursor += 1
        elif _pending(state):
            time.sleep(_POLL)
        else:
            return


def _shutdown_over():
    # The first atexit function to run (registered last, by the step).
    state = _current_exit()
    if state is not None:
        state.done = True


def _exit_step():
    """The threading._register_atexit() callback."""
    global _exit
    with _lock:
        if _current_exit() is not None:
            return  # at most once
        state = _exit = _Exit()
    threading.Thread.start = _start_during_exit
    atexit.register(_shutdown_over)
    try:
        while True:
            try:
                _run_step(state)
                break
            except KeyboardInterrupt as exc:
                # Ctrl-C: stop waiting, but still ask every thread.
                state.waiting = False
                if state.interrupt is None:
                    state.interrupt = exc
    finally:
        state.running = False
    if state.interrupt is not None and state.pid == os.getpid():
        _interrupted(state.interrupt)


def _interrupted(interrupt):
    """After Ctrl-C: shut down the executors now, then let
    threading._shutdown() skip the join of the remaining threads, as a
    Ctrl-C during that join does."""
    try:
        # The callbacks registered before the step (concurrent.futures
        # executors), which threading._shutdown() would call next.  A second
        # Ctrl-C interrupts their wait.
        atexits = getattr(threading, '_threading_atexits', None)
        if atexits is not None and _index is not None:
            for call in reversed(atexits[:_index]):
                call()
    finally:
        _main_thread_done()
    raise interrupt


def _main_thread_done():
    # What threading._shutdown() does between the callbacks and the join,
    # skipped when the step raises: mark the main thread as finished.
    main = threading._main_thread
    try:
        handle = getattr(main, '_handle', None)
        if handle is not None and hasattr(handle, '_set_done'):  # 3.13+
            if threading._is_main_interpreter():
                handle._set_done()
        elif main.ident == threading.get_ident():  # 3.9 to 3.12
            lock = main._tstate_lock
            if lock is not None and lock.locked():
                lock.release()
            main._stop()
    except Exception:
        pass


def _after_fork():
    # A forked child is not exiting, even when its parent was.
    global _exit, _lock
    _lock = threading.RLock()
    _exit = None


def _register():
    global _index
    try:
        # Registers the executors' shutdown, before the step.
        import concurrent.futures.thread  # noqa: F401
        threading._register_atexit(_exit_step)
    except RuntimeError:
        # Imported while the interpreter exits ("can't register atexit after
        # shutdown"): too late to take part; the Thread class still works.
        return
    _index = len(threading._threading_atexits) - 1
    try:
        os.register_at_fork(after_in_child=_after_fork)
    except (AttributeError, RuntimeError):
        pass  # no fork here


_register()
