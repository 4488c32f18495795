"""A wall-clock deadline for a whole HTTP exchange over requests, enforced while bytes trickle in.

A socket timeout only bounds the wait for the *next* byte: a server that sends one byte every half second
keeps a read alive forever. Here every socket the session opens is remembered, and a timer shuts them down
when the exchange's deadline passes; a read blocked in the status line, the headers or the body then
returns at once, and the caller asks `Deadline.expired` to tell a cut-off from a server that hung up.
"""
from __future__ import annotations

import socket
import threading
import weakref
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class _Sockets:
    """The live sockets of one session (weakly held: a socket the pool drops is forgotten)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()

    def add(self, sock: socket.socket | None) -> None:
        if sock is not None:
            with self._lock:
                self._sockets.add(sock)

    def shut_down(self) -> None:
        with self._lock:
            live = list(self._sockets)
        for sock in live:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:  # already closed or never connected
                pass


def _pool_classes(sockets: _Sockets) -> dict[str, type[HTTPConnectionPool]]:
    """Pool classes whose connections register their socket with ``sockets`` once connected."""

    class Conn(HTTPConnection):
        def connect(self) -> None:
            super().connect()
            sockets.add(self.sock)

    class TLSConn(HTTPSConnection):
        def connect(self) -> None:
            super().connect()
            sockets.add(self.sock)

    class Pool(HTTPConnectionPool):
        ConnectionCls = Conn

    class TLSPool(HTTPSConnectionPool):
        ConnectionCls = TLSConn

    return {"http": Pool, "https": TLSPool}


class DeadlineAdapter(HTTPAdapter):
    """An HTTPAdapter whose sockets a `Deadline` can cut; mount it with `install`."""

    def __init__(self, **kwargs: Any) -> None:
        self.sockets = _Sockets()
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _pool_classes(self.sockets)

    @classmethod
    def install(cls, session: requests.Session) -> DeadlineAdapter:
        """Mount a new adapter for http:// and https:// on ``session`` and return it."""
        adapter = cls()
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return adapter


class Deadline:
    """`with Deadline(adapter, seconds):` cuts every socket of ``adapter`` if the block outlives ``seconds``."""

    def __init__(self, adapter: DeadlineAdapter, seconds: float) -> None:
        self.seconds = seconds
        self._adapter = adapter
        self._fired = threading.Event()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        self._fired.set()
        self._adapter.sockets.shut_down()

    @property
    def expired(self) -> bool:
        """True once the deadline passed and the sockets were cut: what was read may be incomplete."""
        return self._fired.is_set()

    def __enter__(self) -> Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
