"""A program that never exits, for the development mode's exit report.

usage: ./python -X dev demo/exit_report_app.py   (interrupt it after ~6 s)

Its synchronous client's task swallows CancelledError, and its worker
thread has no terminate=: five seconds into the exit, -X dev reports both,
with their stacks (the coroutine stacks of a BackgroundThread are not shown).
"""

import asyncio
import asyncio.threading
import queue
import threading


class Client:
    """A synchronous client whose connection lives on a background loop."""

    def __init__(self):
        self._portal = asyncio.threading.BackgroundThread(self._serve,
                                                          name="client")
        self._portal.start()

    async def _serve(self):
        while True:
            try:
                await asyncio.sleep(30)  # keepalive
            except asyncio.CancelledError:
                pass  # bug: swallows the cancellation, never ends

    def fetch(self, key):
        async def get():
            return key.upper()
        return self._portal.run_coroutine_threadsafe(get()).result()


jobs = queue.Queue()


def work():
    while True:          # bug: no terminate=, no end-of-queue marker
        jobs.get()()


client = Client()
print(client.fetch("hello"))
threading.Thread(target=work, name="worker").start()
done = threading.Event()
jobs.put(lambda: (print(client.fetch("job done")), done.set()))
done.wait()
