"""exit-workers: start 16 worker threads that each need 0.2 s to stop once
asked, wait until all of them run, then return from the main module.

usage: python exit_workers.py terminate|workaround

"terminate": Thread(target=work, terminate=stop.set), one event per worker;
interpreter exit asks them all at once and waits for them, so exit takes
about the slowest worker's 0.2 s, not the sum (issue 22, R2).

"workaround": the same workers without terminate=, as daemon threads, and
one atexit function that sets every event, then joins every worker.  That
is what code does today on any interpreter, this one included: atexit is
the public exit hook, but it runs after the non-daemon threads are joined,
so the workers must be daemon threads for it to run at all.  The other
hooks are worse: threading._register_atexit() runs before that join, but is
private ("CPython internal"); and a daemon thread that joins
threading.main_thread() and then sets the events only wakes up once exit
has waited for the non-daemon workers, on the patched interpreter until the
exit deadline (5 s).
"""

import atexit
import sys
import threading
import time

N = 16
STOP_TIME = 0.2
variant = sys.argv[1]
running = threading.Semaphore(0)


def work(stop):
    running.release()
    stop.wait()
    time.sleep(STOP_TIME)  # finish the current job, flush, close


stops = [threading.Event() for _ in range(N)]
if variant == "terminate":
    for stop in stops:
        threading.Thread(target=work, args=(stop,),
                         terminate=stop.set).start()

elif variant == "workaround":
    workers = [threading.Thread(target=work, args=(stop,), daemon=True)
               for stop in stops]
    for worker in workers:
        worker.start()

    def stop_all():
        for stop in stops:
            stop.set()
        for worker in workers:
            worker.join()

    atexit.register(stop_all)

else:
    sys.exit(f"unknown variant {variant!r}")

for _ in range(N):
    running.acquire()
