"""thread-start-join: create, start and join an ordinary Thread.

Prints the median time of one create+start+join, in seconds, over batches.
"""

import statistics
import sys
import threading
import time


def target():
    pass


def batch(loops):
    t0 = time.perf_counter()
    for _ in range(loops):
        thread = threading.Thread(target=target)
        thread.start()
        thread.join()
    return (time.perf_counter() - t0) / loops


batch(200)  # warm up
print(statistics.median(batch(500) for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 9)))
