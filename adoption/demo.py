"""What an fsspec user gains at exit when fsspec's IO loop is a
BackgroundThread instead of a daemon thread.

usage: python demo.py daemon|background [--subinterpreter] [--atexit]

"daemon" runs fsspec as released; "background" first installs the shim of
fsspec_background.py.  The script uses a small asynchronous filesystem
(SessionFS below, a stand-in for fsspec's HTTP or cloud filesystems) that
opens a session on first use, like an aiohttp ClientSession, and closes it
in an async cleanup.  The user reads a file through fsspec's synchronous API
and never closes anything, then the program ends.  With --subinterpreter the
same code runs in a subinterpreter of the default (isolated) kind, which
refuses daemon threads.  With --atexit an atexit function also reads a file
through fsspec, to show what no longer works at exit.
"""

import sys

SCRIPT = r'''
import asyncio
import sys

import fsspec
from fsspec.asyn import AsyncFileSystem

if MODE == "background":
    import fsspec_background
    fsspec_background.install()


class Session:
    """A connection pool that must say goodbye to its server."""

    async def serve(self):
        print("session opened", flush=True)
        try:
            await asyncio.Event().wait()   # until the loop stops
        finally:
            await asyncio.sleep(0.01)      # an async goodbye, as a real
            print("session closed cleanly", flush=True)  # client would


class SessionFS(AsyncFileSystem):
    protocol = "session"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._session_task = None

    async def _cat_file(self, path, start=None, end=None, **kwargs):
        if self._session_task is None:
            self._session_task = asyncio.create_task(Session().serve())
        await asyncio.sleep(0)
        return f"contents of {path}".encode()


fsspec.register_implementation("session", SessionFS)
fs = fsspec.filesystem("session")
print(fs.cat("session://data.txt").decode(), flush=True)
print("iothread:", fsspec.asyn.iothread[0], flush=True)
# No fs.close(), no loop.stop(): the program just ends.

if ATEXIT:
    import atexit

    @atexit.register
    def read_at_exit():
        try:
            data = fs.cat("session://late.txt").decode()
        except RuntimeError as exc:
            data = f"RuntimeError: {exc}"
        print("in an atexit function:", data, flush=True)
'''


def main():
    mode = sys.argv[1]
    if mode not in ("daemon", "background"):
        sys.exit(__doc__)
    script = (f"MODE = {mode!r}\n"
              f"ATEXIT = {'--atexit' in sys.argv[2:]}\n" + SCRIPT)
    if "--subinterpreter" not in sys.argv[2:]:
        exec(compile(script, "<demo>", "exec"), {"__name__": "__main__"})
        return

    import os
    import _interpreters
    interp = _interpreters.create()   # isolated: no daemon threads
    here = os.path.dirname(os.path.abspath(__file__))
    setup = f"import sys; sys.path[:0] = {[here] + sys.path!r}\n"
    error = _interpreters.run_string(interp, setup + script)
    if error is not None:
        print("error in the subinterpreter:", error.formatted)
    # Ends the subinterpreter: its threading._shutdown() runs here.
    _interpreters.destroy(interp)
    print("subinterpreter destroyed", flush=True)


if __name__ == "__main__":
    main()
