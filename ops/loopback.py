"""Running Loumo processes on the loopback: a free port, and whether a URL answers 200 yet.
Shared by the cluster launcher, the benches and the tests that start servers."""

from __future__ import annotations

import socket

import httpx


def free_port() -> int:
    """A TCP port of the loopback that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers_200(url: str, *, timeout: float = 5) -> bool:
    """Whether a GET of `url` answers 200 now (a server not up yet: False)."""
    try:
        return httpx.get(url, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False
