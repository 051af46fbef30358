"""Test-wide guards: no test reaches the network, and no test writes into the checkout's ``data/``.

Every socket connection to an address outside loopback fails the test at once, so a test that would
silently depend on NASA, NOAA or a CDN fails loudly here instead of hanging or passing by luck in CI.
Tests that exercise timeouts use a local server on 127.0.0.1, which stays allowed.

``SPECTM_DATA`` (see :mod:`spectm.paths`) points at a fresh temporary folder for every test, so a test can
neither fill the developer's ``data/`` nor find files an earlier test left there; module- and
session-scoped fixtures, which are built before any test's own folder exists, get one session folder.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest


class NetworkAccessBlocked(RuntimeError):
    """Raised when a test tries to open a connection outside loopback."""


def _is_loopback(address) -> bool:
    if not isinstance(address, tuple):  # AF_UNIX path
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(scope="session", autouse=True)
def _session_data_dir(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPECTM_DATA", str(tmp_path_factory.mktemp("spectm_data_session")))
        yield


@pytest.fixture(autouse=True)
def _test_data_dir(_session_data_dir, tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SPECTM_DATA", str(tmp_path_factory.mktemp("spectm_data")))


@pytest.fixture(autouse=True)
def _block_network(monkeypatch):
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def guarded_connect(sock, address):
        if not _is_loopback(address):
            raise NetworkAccessBlocked(f"test tried to connect to {address!r}: tests never reach the network")
        return real_connect(sock, address)

    def guarded_connect_ex(sock, address):
        if not _is_loopback(address):
            raise NetworkAccessBlocked(f"test tried to connect to {address!r}: tests never reach the network")
        return real_connect_ex(sock, address)

    def guarded_getaddrinfo(host, *args, **kwargs):
        if host not in (None, "localhost") and not _is_loopback((host,)):
            raise NetworkAccessBlocked(f"test tried to resolve {host!r}: tests never reach the network")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    yield
