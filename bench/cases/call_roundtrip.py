"""call-roundtrip: run a no-op coroutine in a loop thread from synchronous
code and wait for its result.

usage: python call_roundtrip.py background|workaround

"background": BackgroundThread.run_coroutine_threadsafe(noop()).result().
"workaround": asyncio.run_coroutine_threadsafe(noop(), loop).result() on a
hand-made thread running loop.run_forever().

Prints the median time of one round trip, in seconds, over batches.
"""

import asyncio
import statistics
import sys
import threading
import time


async def noop():
    pass


def batch(submit, loops):
    t0 = time.perf_counter()
    for _ in range(loops):
        submit(noop()).result()
    return (time.perf_counter() - t0) / loops


variant = sys.argv[1]
if variant == "background":
    import asyncio.threading

    thread = asyncio.threading.BackgroundThread()
    thread.start()
    submit = thread.run_coroutine_threadsafe
    submit(noop()).result()  # the loop runs
    stop = thread.terminate
elif variant == "workaround":
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever)
    thread.start()

    def submit(coro):
        return asyncio.run_coroutine_threadsafe(coro, loop)

    def stop():
        loop.call_soon_threadsafe(loop.stop)
else:
    sys.exit(f"unknown variant {variant!r}")

batch(submit, 200)  # warm up
result = statistics.median(batch(submit, 1000) for _ in range(9))
stop()
thread.join()
print(result)
