"""Helpers of the backport's tests: the parts of test.support they use.

The tests run against the installed wheel, on interpreters whose test
package may be absent, so they do not import test.support.
"""

import contextlib
import gc
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
import unittest

import thread_terminate

# How long a test waits for an event that should happen (as
# test.support.SHORT_TIMEOUT): a regression fails instead of hanging.
TIMEOUT = 30.0

NATIVE = thread_terminate.NATIVE

# CPython 3.12.0 to 3.12.2 refuse to start threads once the interpreter
# exits (gh-113964, fixed in 3.12.3): a terminated thread's cleanup cannot
# start one there, with or without the backport.
THREADS_AT_EXIT = not ((3, 12, 0) <= sys.version_info[:3] < (3, 12, 3))
requires_threads_at_exit = unittest.skipUnless(
    THREADS_AT_EXIT,
    "CPython 3.12.0 to 3.12.2 cannot start threads during interpreter "
    "exit (gh-113964)")

requires_fork = unittest.skipUnless(
    hasattr(os, 'fork') and hasattr(os, 'waitpid'), "needs os.fork()")


# Sets how long interpreter exit waits for the threads that use services
# before it asks the services anyway: threading._EXIT_TIMEOUT upstream, the
# backport's copy of it otherwise (both private).
_EXIT_TIMEOUT_CODE = """\
import threading as _threading, thread_terminate as _thread_terminate
if _thread_terminate.NATIVE:
    _threading._EXIT_TIMEOUT = {0!r}
else:
    _thread_terminate._backport._EXIT_TIMEOUT = {0!r}
"""


def run_script(script, *args, check=True, exit_timeout=None):
    """Run *script* (dedented) in a fresh interpreter; return its output
    lines and its standard error.  The script gets TIMEOUT, and a hang at
    exit fails the test (faulthandler) instead of hanging it.  If
    *exit_timeout* is given, exit asks services that many seconds after it
    began at the latest (instead of 5)."""
    script = textwrap.dedent(script)
    if exit_timeout is not None:
        # At the end: read when exit begins, and after the script's imports,
        # whose order may matter.
        script += "\n" + _EXIT_TIMEOUT_CODE.format(exit_timeout)
    script = ('import faulthandler; '
              'faulthandler.dump_traceback_later(TIMEOUT, exit=True)\n'
              + script)
    script = re.sub(r'\bTIMEOUT\b', repr(TIMEOUT), script)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith('PYTHON')}
    proc = subprocess.run([sys.executable, '-X', 'faulthandler', *args,
                           '-c', script],
                          capture_output=True, env=env,
                          timeout=TIMEOUT * 2)
    out = proc.stdout.decode()
    err = proc.stderr.decode()
    if check and proc.returncode != 0:
        raise AssertionError(f"exit status {proc.returncode}\n"
                             f"stdout:\n{out}\nstderr:\n{err}")
    return out.splitlines(), err


def join_thread(thread, timeout=TIMEOUT):
    thread.join(timeout)
    if thread.is_alive():
        raise AssertionError(f"{thread!r} still alive after {timeout} s")


@contextlib.contextmanager
def catch_threading_exception():
    """Catch what reaches threading.excepthook, as
    test.support.threading_helper.catch_threading_exception() does."""

    class Caught:
        exc_type = exc_value = exc_traceback = thread = None

    caught = Caught()

    def hook(args):
        caught.exc_type = args.exc_type
        caught.exc_value = args.exc_value
        caught.exc_traceback = args.exc_traceback
        caught.thread = args.thread

    previous = threading.excepthook
    threading.excepthook = hook
    try:
        yield caught
    finally:
        threading.excepthook = previous


@contextlib.contextmanager
def disable_gc():
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def gc_collect():
    for _ in range(3):
        gc.collect()


class ThreadsCleanupMixin:
    """Fail a test that leaves threads running behind it."""

    def setUp(self):
        super().setUp()
        before = set(threading.enumerate())
        self.addCleanup(self._check_threads, before)

    def _check_threads(self, before):
        deadline = time.monotonic() + TIMEOUT
        while True:
            left = [thread for thread in threading.enumerate()
                    if thread not in before]
            if not left:
                return
            if time.monotonic() > deadline:
                self.fail(f"threads left running: {left}")
            time.sleep(0.01)
