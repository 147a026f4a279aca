"""The threading module as the generated BackgroundThread sees it.

The standard module, except that Thread is this package's, so that
BackgroundThread is a thread_terminate.Thread on every version, as it is a
threading.Thread with terminate= and __terminate__() upstream.
"""

import threading as _threading

from ._backport import Thread  # noqa: F401


def __getattr__(name):
    return getattr(_threading, name)
