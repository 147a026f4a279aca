import asyncio
import asyncio.threading


class EchoClient:
    """A synchronous client for a line-based echo server.

    The connection lives on an event loop in a BackgroundThread.  Calling
    close() is optional: at interpreter exit the thread is terminated, which
    closes the connection too.
    """

    def __init__(self, host, port):
        self._writer = None
        self._thread = asyncio.threading.BackgroundThread(
            task_target=self._session, name="EchoClient")
        self._thread.start()
        try:
            self._call(self._connect(host, port))
        except BaseException:
            self.close()
            raise

    async def _connect(self, host, port):
        # Runs on the thread's loop, like _session(), so that _session()
        # sees the connection as soon as it exists.
        self._reader, self._writer = await asyncio.open_connection(host, port)

    async def _session(self):
        # The thread's main task: it waits until the thread is terminated,
        # then closes the connection while the loop still runs.
        try:
            await asyncio.Event().wait()
        finally:
            if self._writer is not None:
                self._writer.close()
                await self._writer.wait_closed()

    def _call(self, coro):
        # Run coro on the thread's loop and wait for its result.
        return self._thread.run_coroutine_threadsafe(coro).result()

    def echo(self, line):
        async def echo():
            self._writer.write(line.encode() + b"\n")
            await self._writer.drain()
            return (await self._reader.readline()).decode().rstrip("\n")
        return self._call(echo())

    def close(self):
        self._thread.terminate()
        self._thread.join()
