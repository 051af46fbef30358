"""The network guard itself: outside addresses fail, loopback works."""

import socket
import threading

import pytest

from conftest import NetworkAccessBlocked


def test_outside_connection_is_refused_at_once():
    with pytest.raises(NetworkAccessBlocked):
        socket.create_connection(("93.184.216.34", 443), timeout=5)


def test_name_resolution_is_refused():
    with pytest.raises(NetworkAccessBlocked):
        socket.getaddrinfo("oceandata.sci.gsfc.nasa.gov", 443)


def test_loopback_stays_allowed():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(server.accept()))
    thread.start()
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
    thread.join(60)  # a safety limit only: accept() returns as soon as the connection exists
    server.close()
    assert accepted
