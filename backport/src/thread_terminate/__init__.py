"""Threads that are asked to terminate at interpreter exit.

A backport, for Python 3.9 and later, of a proposed CPython change:
threading.Thread(terminate=...) and Thread.__terminate__(), called on every
thread when the interpreter exits, before non-daemon threads are joined; and
asyncio.threading.BackgroundThread, an event loop in a thread that such a
request cancels gracefully.

    Thread            threading.Thread with terminate=, service= and
                      __terminate__()
    register()        give an existing thread a terminate callback, or make
                      it a service
    BackgroundThread  asyncio.threading.BackgroundThread
    NATIVE            True if this interpreter has the change itself

Where the interpreter has the change, this package only re-exports the
standard library's classes and registers nothing.
"""

__all__ = ('BackgroundThread', 'NATIVE', 'Thread', 'register')

import threading as _threading


def _has_native_support():
    if hasattr(_threading.Thread, '__terminate__'):
        return True
    import inspect
    try:
        parameters = inspect.signature(_threading.Thread.__init__).parameters
    except (TypeError, ValueError):
        return False
    return 'terminate' in parameters


NATIVE = _has_native_support()

if NATIVE:
    Thread = _threading.Thread
else:
    from ._backport import Thread


def register(thread, terminate, *, service=False):
    """Give *thread* what Thread(terminate=terminate, service=service) gives.

    For a thread created by code you do not control: at interpreter exit,
    its default __terminate__() calls *terminate* without arguments (a
    class that overrides __terminate__() decides for itself; None removes
    the callback), and if *service* is true, it is asked only once the
    threads that may use it are done.  The thread may be running, or not
    started yet.
    """
    if not isinstance(thread, _threading.Thread):
        raise TypeError(f"thread must be a threading.Thread, "
                        f"not {type(thread).__name__}")
    if terminate is not None and not callable(terminate):
        raise TypeError("terminate must be callable or None")
    # Where Thread.__init__ keeps the terminate and service parameters
    # (name-mangled self.__terminate_callback and self.__service), upstream
    # and in the backport.
    if NATIVE and not (hasattr(thread, '_Thread__terminate_callback')
                       and hasattr(thread, '_Thread__service')):
        raise RuntimeError("this interpreter's threading.Thread keeps its "
                           "terminate and service parameters elsewhere: "
                           "register() needs an update")
    thread._Thread__terminate_callback = terminate
    thread._Thread__service = bool(service)


def __getattr__(name):
    # BackgroundThread is imported on first use: asyncio is a large import,
    # which users of plain threads do not need.
    if name == 'BackgroundThread':
        if NATIVE:
            from asyncio.threading import BackgroundThread
        else:
            from ._background import BackgroundThread
        globals()['BackgroundThread'] = BackgroundThread
        return BackgroundThread
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | {'BackgroundThread'})
