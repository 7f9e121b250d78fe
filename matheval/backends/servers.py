"""A set of interchangeable inference servers: which one takes the next request (the live one with
the fewest outstanding, at most `per_server` each), which are down, and when to probe those again
(`max_probes` times, `reprobe_after` x 1, 2, 4 ... seconds after they failed). Used by the openai
backend; knows nothing of HTTP (the probe is a function it is given)."""

from __future__ import annotations

import os
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from matheval.errors import UsageError

DEFAULT_URL = "http://127.0.0.1:8000/v1"


def parse_base_urls(values: str | Sequence[str] | None) -> tuple[str, ...]:
    """`--base-url` values (repeatable, each possibly a comma list; default $OPENAI_BASE_URL, then
    http://127.0.0.1:8000/v1) -> distinct URLs without trailing slash."""
    raw = [values] if isinstance(values, str) else list(values or [])
    if not raw:
        raw = [os.environ.get("OPENAI_BASE_URL") or DEFAULT_URL]
    urls: list[str] = []
    for item in raw:
        for part in item.split(","):
            url = part.strip().rstrip("/")
            if not url:
                continue
            parsed = urllib.parse.urlparse(url)
            if parsed.scheme not in ("http", "https") or not parsed.hostname:
                raise UsageError(f"openai backend: bad base URL {part.strip()!r} (expected http://HOST:PORT/v1)")
            if url not in urls:
                urls.append(url)
    if not urls:
        raise UsageError("openai backend: no base URL given")
    return tuple(urls)


class Stopped(Exception):
    """No server will take the request: the pool was stopped, or every server is down for good."""


@dataclass
class Server:
    url: str
    outstanding: int = 0
    sent: int = 0
    answered: int = 0
    failed: int = 0
    live: bool = True
    probes_left: int = 0  # while down: probes still allowed; down with none left = given up on
    next_probe: float = 0.0
    last_error: str = ""


class ServerPool:
    def __init__(self, urls: Sequence[str], per_server: int, max_probes: int, reprobe_after: float,
                 probe: Callable[[Server], bool]) -> None:
        self.servers = [Server(u) for u in urls]
        self.per_server, self.max_probes, self.reprobe_after = per_server, max_probes, reprobe_after
        self.probe = probe  # True if the server answers; may set server.last_error
        self.tries = 0
        self._cond = threading.Condition()
        self._stopped = False

    def any_hope(self) -> bool:
        """Some server is up, or down but still to be probed."""
        return any(s.live or s.probes_left for s in self.servers)

    def down_list(self) -> str:
        return "; ".join(f"{s.url}: {s.last_error or 'down'}" for s in self.servers if not s.live)

    def set_state(self, server: Server, live: bool) -> None:
        with self._cond:
            server.live = live
            server.probes_left = 0 if live else self.max_probes
            server.next_probe = time.monotonic() + self.reprobe_after
            self._cond.notify_all()

    def restart(self) -> None:
        """A new batch: accept requests again; a server given up on gets one more probe at once."""
        with self._cond:
            self._stopped = False
            for s in self.servers:
                if not s.live and not s.probes_left:
                    s.probes_left, s.next_probe = 1, time.monotonic()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def acquire(self, tried: set[str]) -> Server:
        """A slot on the live server with the fewest outstanding requests, preferring servers this
        request has not failed on; waits while all are busy or being probed. Raises Stopped."""
        with self._cond:
            while True:
                if self._stopped:
                    raise Stopped
                free = [s for s in self.servers if s.live and s.outstanding < self.per_server]
                if free:
                    fresh = [s for s in free if s.url not in tried] or free
                    server = min(fresh, key=lambda s: (s.outstanding, s.sent))
                    server.outstanding += 1
                    server.sent += 1
                    self.tries += 1
                    return server
                if not self.any_hope():
                    self._stopped = True
                    self._cond.notify_all()
                    raise Stopped
                self._cond.wait(0.5)

    def release(self, server: Server, error: str | None) -> None:
        """The request is over; `error` set means the server failed it: out until probed back."""
        with self._cond:
            server.outstanding -= 1
            if error is None:
                server.answered += 1
            else:
                server.failed += 1
                server.last_error = error
                if server.live:
                    server.live = False
                    server.probes_left = self.max_probes
                    server.next_probe = time.monotonic() + self.reprobe_after
            self._cond.notify_all()

    def reprobe(self, done: threading.Event) -> None:
        """Thread body until `done`: probe each down server when it is due, backing off."""
        while not done.wait(0.05):
            now = time.monotonic()
            with self._cond:
                due = [s for s in self.servers if not s.live and s.probes_left and s.next_probe <= now]
            for s in due:
                up = self.probe(s)
                with self._cond:
                    s.probes_left = 0 if up else s.probes_left - 1
                    s.live = up
                    backoff = 2 ** (self.max_probes - s.probes_left)
                    s.next_probe = time.monotonic() + self.reprobe_after * backoff
                    self._cond.notify_all()
