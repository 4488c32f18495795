"""A real HTTP server on 127.0.0.1 (http.server in a thread) serving feed documents for tests.

Supports ETag / Last-Modified validators (answering 304), failing the first N requests with 503, and bodies
sent without a Content-Length (to test the streamed size cap). Hostile behaviours for the deadline tests:
a fixed error status with Retry-After, a body (or the headers) trickled one byte at a time, and a connection
reset after part of the body.
"""
from __future__ import annotations

import contextlib
import hashlib
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    body: bytes
    content_type: str = "application/rss+xml; charset=utf-8"
    validators: bool = True
    fail_first: int = 0
    declare_length: bool = True
    last_modified: str = formatdate(1704355200, usegmt=True)  # Thu, 04 Jan 2024 08:00:00 GMT
    status: int = 200  # another value answers every request with it (and `retry_after` when set)
    retry_after: str = ""
    trickle_s: float = 0.0  # > 0: send the body one byte every trickle_s seconds
    trickle_headers: bool = False  # with trickle_s: trickle the header block too
    reset_after: int = -1  # >= 0: send this many body bytes, then reset the connection (TCP RST)
    content_encoding: str = ""  # e.g. "gzip" for a body that is already compressed

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up (at its size cap, on a timeout) is expected here, not an error."""
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


class FeedServer:
    """Context manager: `with FeedServer() as server: server.routes["/a.xml"] = Route(b"...")`."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                """Keep test output clean."""

            def do_GET(self) -> None:
                with server._lock:
                    server.requests.append((self.path, dict(self.headers.items())))
                    route = server.routes.get(self.path)
                    if route is not None and route.fail_first > 0:
                        route.fail_first -= 1
                        self._send(503, b"busy", {"Retry-After": "0"})
                        return
                if route is None:
                    self._send(404, b"not found", {})
                    return
                if route.status != 200:
                    self._send(route.status, b"error", {"Retry-After": route.retry_after} if route.retry_after else {})
                    return
                if route.trickle_s > 0 or route.reset_after >= 0:
                    self._hostile(route)
                    return
                if route.validators and self._not_modified(route):
                    self._send(304, b"", {"ETag": route.etag})
                    return
                headers = {"Content-Type": route.content_type}
                if route.content_encoding:
                    headers["Content-Encoding"] = route.content_encoding
                if route.validators:
                    headers.update({"ETag": route.etag, "Last-Modified": route.last_modified})
                if route.declare_length:
                    self._send(200, route.body, headers)
                    return
                self.send_response(200)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Connection", "close")  # body ends when the connection closes
                self.end_headers()
                self.close_connection = True
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # client hit its size cap
                    self.wfile.write(route.body)

            def _hostile(self, route: Route) -> None:
                head = (f"HTTP/1.1 200 OK\r\nContent-Type: {route.content_type}\r\n"
                        f"Content-Length: {len(route.body)}\r\n\r\n").encode()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError, OSError):
                    if route.reset_after >= 0:
                        self.wfile.write(head + route.body[:route.reset_after])
                        self.wfile.flush()
                        time.sleep(0.05)
                        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        self.connection.close()  # linger 0: the close sends a reset
                        self.close_connection = True
                        return
                    slow = (head if route.trickle_headers else b"") + route.body
                    if not route.trickle_headers:
                        self.wfile.write(head)
                    for i in range(len(slow)):
                        self.wfile.write(slow[i:i + 1])
                        self.wfile.flush()
                        time.sleep(route.trickle_s)
                self.close_connection = True

            def _not_modified(self, route: Route) -> bool:
                # RFC 9110: If-None-Match, when sent, decides alone; If-Modified-Since only without it.
                if "If-None-Match" in self.headers:
                    return self.headers["If-None-Match"] == route.etag
                return self.headers.get("If-Modified-Since") == route.last_modified

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if status != 304:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if status != 304:
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                        self.wfile.write(body)

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}{path}"

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


class SilentServer:
    """A listening socket that accepts connections (via the backlog) and never answers."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)

    def url(self, path: str = "/feed.xml") -> str:
        host, port = self._sock.getsockname()[:2]
        return f"http://{host}:{port}{path}"

    def __enter__(self) -> SilentServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self._sock.close()
