"""exit-loops-N: start N event loops in threads whose tasks are idle, wait
until all of them run, then return from the main module.

usage: python exit_loops.py N background|workaround

"background" uses asyncio.threading.BackgroundThread, which interpreter exit
terminates.  "workaround" is what code has to do without the change: daemon
threads each running asyncio.run(), and an atexit function that stops every
loop with call_soon_threadsafe() and joins the threads.
"""

import asyncio
import atexit
import sys
import threading

n = int(sys.argv[1])
variant = sys.argv[2]
running = threading.Semaphore(0)


async def idle():
    running.release()
    await asyncio.Event().wait()


if variant == "background":
    import asyncio.threading

    for _ in range(n):
        asyncio.threading.BackgroundThread(task_target=idle).start()

elif variant == "workaround":
    loops = []  # (thread, loop, stop event)

    async def main(entry):
        entry.append(asyncio.get_running_loop())
        entry.append(stop := asyncio.Event())
        running.release()
        await stop.wait()

    def run(entry):
        asyncio.run(main(entry))

    def stop_all():
        for thread, loop, stop in loops:
            loop.call_soon_threadsafe(stop.set)
        for thread, loop, stop in loops:
            thread.join()

    entries = []
    for _ in range(n):
        entry = []
        thread = threading.Thread(target=run, args=(entry,), daemon=True)
        thread.start()
        entries.append((thread, entry))
    atexit.register(stop_all)

else:
    sys.exit(f"unknown variant {variant!r}")

for _ in range(n):
    running.acquire()
if variant == "workaround":
    loops.extend((thread, *entry) for thread, entry in entries)
