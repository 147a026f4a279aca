# What typeshed's stdlib/asyncio/threading.pyi would hold.
import concurrent.futures
import threading
from asyncio.events import AbstractEventLoop
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from types import TracebackType
from typing import Any, TypeVar
from typing_extensions import Self

__all__ = ("BackgroundThread",)

_T = TypeVar("_T")

class BackgroundThread(threading.Thread):
    def __init__(
        self,
        task_target: Callable[..., Awaitable[object]] | None = None,
        *,
        name: str | None = None,
        args: Iterable[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        loop_factory: Callable[[], AbstractEventLoop] | None = None,
        debug: bool | None = None,
    ) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self, exc_type: type[BaseException] | None, exc_val: BaseException | None, exc_tb: TracebackType | None, /
    ) -> None: ...
    @property
    def daemon(self) -> bool: ...
    @daemon.setter
    def daemon(self, daemonic: bool) -> None: ...
    def get_loop(self) -> AbstractEventLoop: ...
    def terminate(self) -> None: ...
    def __terminate__(self) -> None: ...
    def run_coroutine_threadsafe(self, coro: Coroutine[Any, Any, _T]) -> concurrent.futures.Future[_T]: ...
