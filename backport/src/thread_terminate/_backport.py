"""Thread termination at exit, on interpreters without the upstream change.

Upstream, threading._shutdown() asks the other threads to terminate before
it joins the non-daemon threads.  Here _exit_step() does that: it is a
threading._register_atexit() callback, registered on import after the one
of concurrent.futures.thread (which shuts down the executors), and
threading._shutdown() calls those before the join, last registered first.
The step is upstream's _shutdown() up to the join, with the same functions
(Lib/threading.py, search "_exit_"); it calls the callbacks registered before
it itself, at upstream's place.  Threads do not tell when they start:
threading._limbo is replaced with a dict whose __setitem__, which
Thread.start() calls under threading's lock, does what upstream's start()
does there.
"""

import atexit
import os
import sys
import threading
from _weakrefset import WeakSet
from time import monotonic as _time

# Where upstream's Thread.__init__ keeps its parameters (name-mangled
# self.__terminate_callback and self.__service).
_CALLBACK = '_Thread__terminate_callback'
_SERVICE = '_Thread__service'


class Thread(threading.Thread):
    """A threading.Thread that can be asked to terminate.

    The same as threading.Thread, plus the keyword-only parameters
    *terminate*, a callable called without arguments by the default
    __terminate__() method to ask the thread to stop, notably at interpreter
    exit, and *service*: if true, the thread serves other threads (an event
    loop, a logging thread), and interpreter exit asks it only once the
    other threads are done.  On Python versions that have these, this is
    threading.Thread.
    """

    def __init__(self, group=None, target=None, name=None,
                 args=(), kwargs=None, *, daemon=None, terminate=None,
                 service=False):
        if terminate is not None and not callable(terminate):
            raise TypeError("terminate must be callable or None")
        super().__init__(group=group, target=target, name=name,
                         args=args, kwargs=kwargs, daemon=daemon)
        # Name-mangled, as upstream: subclasses commonly have a "terminate"
        # method or a "_terminate" attribute of their own.
        self.__terminate_callback = terminate
        self.__service = bool(service)

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


def _service(thread):
    return getattr(thread, _SERVICE, False)


def _done(thread):
    # Upstream: thread._handle.is_done().
    return thread._started.is_set() and not thread.is_alive()


def _terminate(thread):
    # Upstream: thread.__terminate__().  A threading.Thread has none here,
    # but register() may have given it a callback.
    method = getattr(thread, '__terminate__', None)
    if method is not None:
        method()
    else:
        callback = getattr(thread, _CALLBACK, None)
        if callback is not None:
            callback()


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


def _report_terminate_error(exc, thread):
    """Report an exception raised by a termination request, as upstream's
    _thread._report_terminate_error() does."""
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


# --- the exit step: upstream's _exit_* code and _shutdown() ---------------
#
# Differences from upstream are marked "Backport:".

# Interpreter exit (see _exit_step()) waits at most this many seconds for the
# threads that may use services before it asks the services (upstream's).
_EXIT_TIMEOUT = 5.0
# While threading._shutdown() runs, when that wait ends (time.monotonic()),
# else None.  Backport: reset by _shutdown_over(), the first atexit function.
_exit_deadline = None
_exit_thread = None  # the thread running the step
# The threads whose request returned, asked once.
_exit_asked: 'WeakSet[threading.Thread]' = WeakSet()
_exit_rest_asked = False
_exit_forked = False  # forked by the exiting thread
# Backport: True once the step has returned (upstream: once _shutdown() has,
# which resets _exit_deadline): the threads that _exit_thread starts from
# then on are not asked.
_exit_over = False
# Backport: the thread of _exit_timer(), a threading.Thread here, which is
# neither asked nor waited for.
_exit_timer_thread = None
# Backport: the index of the step in threading._threading_atexits.
_index = None


class _Limbo(dict):
    """Backport: threading._limbo, to which Thread.start() adds the thread
    under threading._active_limbo_lock, where upstream's Thread.start()
    decides whether the thread asks itself."""

    def __setitem__(self, thread, value):
        # Started during exit, after the threads were asked: the thread
        # asks itself when it runs, a service once services were asked.
        if (_exit_deadline is not None
                and (not _service(thread) or _exit_rest_asked)
                and not (_exit_over
                         and threading.current_thread() is _exit_thread)
                and thread is not _exit_timer_thread
                and not getattr(thread.__dict__.get('run'), '_exit_ask',
                                False)):
            # Recorded at once (upstream: when it asks), so that the rest,
            # asked before it runs, does not ask it too.
            _exit_asked.add(thread)
            thread.run = _asking_run(thread)
        super().__setitem__(thread, value)


def _asking_run(thread):
    # Backport: the run() of a thread that asks itself, which upstream's
    # _bootstrap_inner() does once the thread is registered as running.
    own = thread.__dict__.get('run')
    run = thread.run

    def asking_run():
        if own is None:
            del thread.run
        else:
            thread.run = own
        _exit_ask(thread, record_first=True)
        run()

    asking_run._exit_ask = True
    return asking_run


def _exit_ask(thread, record_first=False):
    """Call thread.__terminate__(); report errors but return Ctrl-C (a
    KeyboardInterrupt in _exit_thread), which record_first cannot be."""
    if record_first:
        _exit_asked.add(thread)
    try:
        _terminate(thread)
    except BaseException as exc:
        _exit_asked.discard(thread)
        if (isinstance(exc, KeyboardInterrupt)
                and _exit_thread.ident == threading.get_ident()):
            return exc
        _report_terminate_error(exc, thread)
    else:
        # Recorded only once asked (a Ctrl-C before: asked again); weakly.
        _exit_asked.add(thread)
    return None


def _exit_ask_all(threads):
    # Also the threads that ended meanwhile: each worker gets its sentinel
    # (Backport: except, in a child forked by the exiting thread, the
    # threads that do not run there, which upstream's _after_fork() marks as
    # asked).
    interrupts = [_exit_ask(thread) for thread in threads
                  if thread not in _exit_asked
                  and not (_exit_forked and _done(thread))]
    return next(filter(None, interrupts), None)


def _exit_ask_rest(interrupt=None):
    # Ask the rest once, by the thread of _exit_timer() or the exit thread
    # (a request that a first Ctrl-C interrupts, again).
    global _exit_rest_asked
    for attempt in range(1 if interrupt else 2):
        try:
            with threading._active_limbo_lock:
                first, _exit_rest_asked = not _exit_rest_asked, True
                threads = _exit_threads(lambda thread: True)
            if not (first or attempt):
                break
            rest = _exit_ask_all(threads)
        except KeyboardInterrupt as exc:
            rest = exc
        interrupt = interrupt or rest
        if rest is None:
            break
    return interrupt


def _exit_threads(select):
    with threading._active_limbo_lock:
        return [thread for thread in threading._enumerate()
                if thread is not _exit_thread
                and thread is not _exit_timer_thread and select(thread)]


def _exit_wait(select):
    # Wait for the non-daemon threads select() chooses, until the deadline.
    while threads := _exit_threads(
            lambda thread: not thread._daemonic and select(thread)):
        thread, threads = threads[0], None  # the others are not kept
        timeout = _exit_deadline - _time()
        if timeout <= 0:
            return
        if thread._started.is_set():
            thread.join(timeout)  # Backport: upstream joins its _handle
        else:  # still starting, or its start() failed
            thread._started.wait(min(timeout, 0.01))


def _exit_accepts(thread):
    # Not a service, with a terminate callable or a __terminate__() of its own.
    if _service(thread):
        return False
    if getattr(thread, _CALLBACK, None) is not None:
        return True
    method = getattr(thread, '__terminate__', None)
    return (method is not None
            and getattr(method, '__func__', None) is not Thread.__terminate__)


def _exit_timer():
    # Start a thread asking the rest at the deadline; return what stops it.
    global _exit_timer_thread
    stop = threading.Lock()
    stop.acquire()
    timeout = max(_exit_deadline - _time(), 0)

    def wait():
        if not stop.acquire(timeout=timeout):
            _exit_ask_rest()

    # Backport: a threading.Thread, since a subinterpreter must not end with
    # a low-level thread still running.
    _exit_timer_thread = thread = threading.Thread(
        target=wait, name="thread_terminate exit timer", daemon=False)
    try:
        thread.start()
    except RuntimeError:
        return None
    return lambda: (stop.release(), thread.join())


def _exit_step():
    """Upstream's threading._shutdown() up to the join, which threading's
    own does after the step (threading._SHUTTING_DOWN is already set)."""
    global _exit_deadline, _exit_thread, _exit_over
    interrupt = stop = None
    try:
        try:
            with threading._active_limbo_lock:  # see _Limbo
                _exit_deadline = _time() + _EXIT_TIMEOUT
                _exit_thread = threading.current_thread()
                _exit_over = False
                threads = _exit_threads(lambda t: not _service(t))
            atexit.register(_shutdown_over)  # Backport: the first to run
            # All at once; then the cleanups that may use executors.
            interrupt = _exit_ask_all(threads)
            if interrupt is None:
                _exit_wait(_exit_accepts)
        except KeyboardInterrupt as exc:
            interrupt = exc
        if interrupt is not None:  # Ctrl-C stops the waiting
            _exit_deadline = _time()

        # Call registered threading atexit functions before threads are joined
        # (Backport: those registered before the step, see _take_atexits()),
        # in reverse order, also after Ctrl-C (which a second one interrupts).
        try:
            atexits = _take_atexits()
            if atexits:
                stop = _exit_timer()
            try:
                for atexit_call in reversed(atexits):
                    atexit_call()
            finally:
                _main_thread_done()
            # Executor workers, plain threads.
            _exit_wait(lambda thread: not _service(thread))
        except KeyboardInterrupt as exc:
            interrupt = interrupt or exc
        try:
            if stop is not None:
                # Before finalization, also after Ctrl-C; and the rest,
                # which the timer may be asking, is asked when it returns.
                stop()
        except KeyboardInterrupt as exc:
            interrupt = interrupt or exc

        interrupt = _exit_ask_rest(interrupt)
        if interrupt is not None:
            # threading._shutdown() skips the join, and, before 3.13, what
            # _main_thread_done() could not do.
            _main_thread_done(raising=True)
            raise interrupt
    finally:
        _exit_over = True


# --- Backport: the rest ---------------------------------------------------

def _take_atexits():
    # The threading._register_atexit() callbacks registered before the step,
    # replaced in threading's list with no-ops, which threading._shutdown()
    # calls after the step in their stead (the list it iterates keeps its
    # length).
    atexits = threading._threading_atexits
    calls = atexits[:_index]
    atexits[:_index] = [_no_op] * len(calls)
    return calls


def _no_op():
    pass


def _shutdown_over():
    # The first atexit function (registered last, by the step): threads
    # started from now on, by atexit functions, are not asked.
    global _exit_deadline
    _exit_deadline = None


def _main_thread_done(raising=False):
    # Mark the main thread as ended, as upstream's _shutdown() does after
    # the callbacks, in the main interpreter (where 3.12+ can tell).  Before
    # 3.13, threading._shutdown() does it after the step, and fails if it
    # was done: only when the step raises, which skips it.
    is_main_interpreter = getattr(threading, '_is_main_interpreter', None)
    if is_main_interpreter is not None and not is_main_interpreter():
        return
    main = threading._main_thread
    try:
        handle = getattr(main, '_handle', None)
        if hasattr(handle, '_set_done'):  # 3.13+: once only
            handle._set_done()
        elif raising and main.ident == threading.get_ident():
            lock = main._tstate_lock
            if lock is not None and lock.locked():
                lock.release()
            main._stop()
    except Exception:
        pass


def _after_fork():
    # Upstream's lines of threading._after_fork(), after which this runs.
    global _exit_deadline, _exit_asked, _exit_rest_asked, _exit_forked
    if threading.current_thread() is not _exit_thread:
        # Not exiting: only a child forked by the exiting thread goes on.
        _exit_deadline, _exit_asked, _exit_rest_asked = None, WeakSet(), False
    else:
        # Backport: threading._after_fork(), which ran before, left only
        # this thread in threading._enumerate(), whose others upstream adds
        # to _exit_asked here: see _exit_ask_all().
        _exit_forked = True


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
    with threading._active_limbo_lock:
        threading._limbo = _Limbo(threading._limbo)
    if hasattr(os, 'register_at_fork'):
        os.register_at_fork(after_in_child=_after_fork)


_register()
