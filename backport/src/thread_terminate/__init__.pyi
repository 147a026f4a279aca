import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from ._background import BackgroundThread as BackgroundThread

__all__ = ("BackgroundThread", "NATIVE", "Thread", "register")

NATIVE: Final[bool]

# Upstream, these are the lines that typeshed's stdlib/threading.pyi adds to
# Thread (for the Python version that has the change).
class Thread(threading.Thread):
    def __init__(
        self,
        group: None = None,
        target: Callable[..., object] | None = None,
        name: str | None = None,
        args: Iterable[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        daemon: bool | None = None,
        terminate: Callable[[], object] | None = None,
        service: bool = False,
    ) -> None: ...
    def __terminate__(self) -> None: ...

def register(thread: threading.Thread, terminate: Callable[[], object] | None, *, service: bool = False) -> None: ...
