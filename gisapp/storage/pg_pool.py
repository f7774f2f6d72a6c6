"""A small connection pool for the PostGIS store: safe across threads and after fork.

Connections are borrowed for one read or one write transaction and given back; a few idle
ones are kept. A forked child never touches its parent's connections: their sockets are
pointed at /dev/null first, so closing them cannot end the parent's sessions.
"""
from __future__ import annotations

import os
import threading
import weakref
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

from ..errors import StoreError

MAX_IDLE = 4
_POOLS: weakref.WeakSet = weakref.WeakSet()


def masked(url: str) -> str:
    """The URL without its password (for messages, logs and cache keys)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


class Pool:
    def __init__(self, url: str):
        self.url = url
        self.idle: list = []
        self.live: set = set()
        self.lock = threading.Lock()
        self.pid = os.getpid()
        _POOLS.add(self)

    def _connect(self):
        import psycopg
        try:
            conn = psycopg.connect(self.url, autocommit=True, application_name="gisapp", connect_timeout=10)
        except psycopg.OperationalError as exc:
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise StoreError(f"cannot connect to PostgreSQL at {masked(self.url)}: {reason}") from None
        conn.execute("SET TIME ZONE 'UTC'")
        return conn

    @contextmanager
    def connection(self):
        if self.pid != os.getpid():
            self.after_fork()
        with self.lock:
            conn = self.idle.pop() if self.idle else None
        if conn is None or conn.closed:
            conn = self._connect()
            with self.lock:
                self.live.add(conn)
        try:
            yield conn
        finally:
            self.give_back(conn)

    def give_back(self, conn) -> None:
        from psycopg import pq
        healthy = not conn.closed and conn.info.transaction_status == pq.TransactionStatus.IDLE
        with self.lock:
            if healthy and len(self.idle) < MAX_IDLE and self.pid == os.getpid():
                self.idle.append(conn)
                return
            self.live.discard(conn)
        conn.close()

    def close(self) -> None:
        """Close every idle connection (borrowed ones close when given back)."""
        with self.lock:
            conns, self.idle = self.idle, []
            self.live.difference_update(conns)
        for conn in conns:
            conn.close()

    def after_fork(self) -> None:
        """In a child: forget the parent's connections without saying goodbye on their sockets."""
        with self.lock:
            inherited, self.idle, self.live = list(self.live), [], set()
            self.pid = os.getpid()
        if not inherited:
            return
        devnull = os.open(os.devnull, os.O_RDWR)
        try:
            for conn in inherited:
                try:
                    if not conn.closed:
                        os.dup2(devnull, conn.pgconn.socket)
                        conn.close()
                except Exception:  # noqa: BLE001 - a dead socket is fine to lose
                    pass
        finally:
            os.close(devnull)


def _after_fork_in_child() -> None:
    for pool in list(_POOLS):
        pool.after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


def close_on_collect(owner, pool: Pool) -> None:
    """Close the pool's connections when ``owner`` is garbage-collected or at exit."""
    weakref.finalize(owner, pool.close)
