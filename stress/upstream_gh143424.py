"""Reproduce gh-143424 without interpreter exit (see KNOWN_UPSTREAM in
run.py): on a 3.13.15 debug build, releasing an Event waiter's lock twice,
as a Condition.notify() that Ctrl-C interrupted and that is then called
again does, aborts on "_PyMutex_LockTimed: Assertion ... & _Py_LOCKED
failed" when the waiting thread got the lock by hand-off.  Release builds
have no such assertion; CPython's main branch relaxed it (gh-143439).

usage: python upstream_gh143424.py   (aborts on most runs, on both builds)
"""

import threading
import time

event = threading.Event()
thread = threading.Thread(target=event.wait)
thread.start()
while not event._cond._waiters:
    time.sleep(0.001)
time.sleep(0.01)  # parked long enough for the lock to be handed off
waiter = event._cond._waiters[0]
waiter.release()  # what Condition.notify() does...
try:
    waiter.release()  # ...and again, as a notify() repeated after Ctrl-C
except RuntimeError:
    pass  # the waiting thread took the lock already
thread.join()
