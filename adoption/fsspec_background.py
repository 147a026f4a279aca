"""Run fsspec's IO event loop on asyncio.threading.BackgroundThread.

Adoption evidence for the pull request, not upstream material.  fsspec
(fsspec/asyn.py) runs the event loop behind its synchronous API in a daemon
thread ("fsspecIO") created by fsspec.asyn.get_loop().  install() replaces
that one function; every fsspec caller looks it up as fsspec.asyn.get_loop
at call time, so nothing else changes.

fsspec needs the loop object itself (AsyncFileSystem keeps it as self.loop
and passes it to asyncio.run_coroutine_threadsafe()): BackgroundThread's
get_loop() returns it once it runs.
"""

import asyncio.threading

import fsspec.asyn

__all__ = ['get_loop', 'install']


def get_loop():
    """Create or return fsspec's IO loop, in a BackgroundThread."""
    if fsspec.asyn.loop[0] is None:
        with fsspec.asyn.get_lock():
            if fsspec.asyn.loop[0] is None:
                thread = asyncio.threading.BackgroundThread(name="fsspecIO")
                thread.start()
                fsspec.asyn.loop[0] = thread.get_loop()
                fsspec.asyn.iothread[0] = thread
    return fsspec.asyn.loop[0]


def install():
    """Make fsspec create its IO loop with get_loop() above."""
    fsspec.asyn.get_loop = get_loop
