"""A small program using the backport's API, checked by mypy --strict
(test_typing) and run (test_typing too).  The lines marked "type: ignore"
are errors that the stubs must catch: with --strict (warn_unused_ignores),
mypy fails if one of them is not an error."""

import asyncio
import concurrent.futures
import threading
from typing import TYPE_CHECKING

import thread_terminate
from thread_terminate import BackgroundThread, Thread, register

native: bool = thread_terminate.NATIVE

# A plain thread that is asked to stop at interpreter exit.
stop = threading.Event()
worker = Thread(target=stop.wait, args=(5.0,), name="worker",
                terminate=stop.set)
worker.start()

# A thread made elsewhere, given a callback.
other_stop = threading.Event()
other = threading.Thread(target=other_stop.wait, args=(5.0,))
register(other, other_stop.set)
other.start()

# A thread that serves others: asked once they are done.
service_stop = threading.Event()
service = Thread(target=service_stop.wait, args=(5.0,),
                 terminate=service_stop.set, service=True)
service.start()
register(other, other_stop.set, service=False)


class Service(Thread):
    def __terminate__(self) -> None:
        stop.set()


async def add(a: int, b: int) -> int:
    await asyncio.sleep(0)
    return a + b


async def main(greeting: str) -> None:
    await asyncio.sleep(0)


portal = BackgroundThread(name="portal", debug=False,
                          loop_factory=asyncio.new_event_loop)
portal.start()
future: concurrent.futures.Future[int] = portal.run_coroutine_threadsafe(
    add(1, 2))
total: int = future.result(5.0)
loop: asyncio.AbstractEventLoop = portal.get_loop()
portal.terminate()
portal.join()
daemonic: bool = portal.daemon

with BackgroundThread(main, name="runner", args=("hello",)) as runner:
    runner.join()

stop.set()
other_stop.set()
service_stop.set()
worker.join()
other.join()
service.join()
print(total)

if TYPE_CHECKING:
    # Errors the stubs must catch (never run).
    Thread(terminate=42)  # type: ignore[arg-type]
    BackgroundThread(daemon=True)  # type: ignore[call-arg]
    BackgroundThread(terminate=stop.set)  # type: ignore[call-arg]
    BackgroundThread(main, "name")  # type: ignore[call-arg]
    register(other, 42)  # type: ignore[arg-type]
    register(other, None, True)  # type: ignore[call-arg]
    Thread(service=None)  # type: ignore[arg-type]
    wrong: str = portal.run_coroutine_threadsafe(add(1, 2)).result()  # type: ignore[assignment]
