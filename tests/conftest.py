"""Test-wide guards: no test reaches the network, writes into the checkout or depends on the clock.

Every socket connection to an address outside loopback fails the test at once, so a test that would
silently depend on NASA, NOAA or a CDN fails loudly here instead of hanging or passing by luck in CI.
Tests that exercise timeouts use a local server on 127.0.0.1, which stays allowed.

``SPECTM_DATA`` (see :mod:`spectm.paths`) points at a fresh temporary folder for every test, so a test can
neither fill the developer's ``data/`` nor find files an earlier test left there; module- and
session-scoped fixtures, which are built before any test's own folder exists, get one session folder.
"""

from __future__ import annotations

import ipaddress
import shutil
import socket
import tempfile

import pytest
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

# Property tests: no wall-clock deadline (a loaded machine is not a bug), no example database written into
# the checkout (a failure from an earlier run is not replayed into this one), and the same examples on
# every run, so the suite's verdict does not change from one day or machine to the next.
settings.register_profile("spectm", deadline=None, database=None, derandomize=True)
settings.load_profile("spectm")


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


def pytest_configure(config):
    """Hypothesis caches module constants in ``.hypothesis/`` of the working directory, at collection time,
    before any fixture runs: give it a temporary folder instead."""
    config.spectm_hypothesis_home = tempfile.mkdtemp(prefix="spectm-hypothesis-")
    set_hypothesis_home_dir(config.spectm_hypothesis_home)


def pytest_unconfigure(config):
    set_hypothesis_home_dir(None)
    shutil.rmtree(config.spectm_hypothesis_home, ignore_errors=True)


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


@pytest.fixture
def one_thread():
    """One intra-op torch thread: on a shared 2-core machine two spinning OpenMP threads are 10x slower, and
    the tiny models of the tests gain nothing from more."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
