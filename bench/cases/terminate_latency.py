"""terminate-latency: the time from asking a running loop thread to stop
until join() returns.

usage: python terminate_latency.py background|workaround|workaround-cancel

"background": BackgroundThread.terminate(), then join(); the task awaits an
asyncio.Event.  "workaround": a thread running asyncio.run() of a coroutine
awaiting an asyncio.Event, stopped by loop.call_soon_threadsafe(event.set),
then join().  "workaround-cancel": the same, stopped by cancelling the task
(loop.call_soon_threadsafe(task.cancel)), which is what terminate() does: it
shows what the cancellation itself costs.

Prints the median over repetitions, in seconds.
"""

import asyncio
import statistics
import sys
import threading
import time

variant = sys.argv[1]
repeat = 200


def background():
    import asyncio.threading

    running = threading.Event()

    async def idle():
        running.set()
        await asyncio.Event().wait()

    thread = asyncio.threading.BackgroundThread(task_target=idle)
    thread.start()
    running.wait()
    t0 = time.perf_counter()
    thread.terminate()
    thread.join()
    return time.perf_counter() - t0


def workaround(cancel=False):
    running = threading.Event()
    entry = []

    async def main():
        entry.append(asyncio.get_running_loop())
        entry.append(stop := asyncio.Event())
        entry.append(asyncio.current_task())
        running.set()
        try:
            await stop.wait()
        except asyncio.CancelledError:
            pass

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    running.wait()
    loop, stop, task = entry
    t0 = time.perf_counter()
    loop.call_soon_threadsafe(task.cancel if cancel else stop.set)
    thread.join()
    return time.perf_counter() - t0


measure = {"background": background, "workaround": workaround,
           "workaround-cancel": lambda: workaround(cancel=True)}[variant]
for _ in range(5):
    measure()  # warm up
print(statistics.median(measure() for _ in range(repeat)))
