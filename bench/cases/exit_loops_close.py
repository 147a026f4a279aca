"""exit-loops-close: start 8 event loops in threads, each running a task
whose cleanup is a 0.2 s close handshake, wait until all of them run, then
return from the main module.

usage: python exit_loops_close.py background|workaround

"background": asyncio.threading.BackgroundThread(task_target=session);
interpreter exit terminates them all at once (they are services, asked
together once no other thread needs them), so exit takes about one
handshake, not the sum (issue 22, R2).

"workaround": what code has to do without the change (as in exit_loops.py):
daemon threads each running asyncio.run() of the same task, and an atexit
function that cancels every task with call_soon_threadsafe(), then joins
the threads.
"""

import asyncio
import atexit
import sys
import threading

N = 8
CLOSE_TIME = 0.2
variant = sys.argv[1]
running = threading.Semaphore(0)


async def session(entry=None):
    if entry is not None:
        entry.append(asyncio.get_running_loop())
        entry.append(asyncio.current_task())
    running.release()
    try:
        await asyncio.Event().wait()  # serve until cancelled
    finally:
        await asyncio.sleep(CLOSE_TIME)  # the close handshake


if variant == "background":
    import asyncio.threading

    for _ in range(N):
        asyncio.threading.BackgroundThread(task_target=session).start()

elif variant == "workaround":
    loops = []  # (thread, loop, task)

    def run(entry):
        try:
            asyncio.run(session(entry))
        except asyncio.CancelledError:
            pass  # cancelled by cancel_all(): the normal way to end

    def cancel_all():
        for thread, loop, task in loops:
            loop.call_soon_threadsafe(task.cancel)
        for thread, loop, task in loops:
            thread.join()

    entries = []
    for _ in range(N):
        entry = []
        thread = threading.Thread(target=run, args=(entry,), daemon=True)
        thread.start()
        entries.append((thread, entry))
    atexit.register(cancel_all)

else:
    sys.exit(f"unknown variant {variant!r}")

for _ in range(N):
    running.acquire()
if variant == "workaround":
    loops.extend((thread, *entry) for thread, entry in entries)
