"""The command line: offline, `spectm fetch` fails at once with one clear sentence; `spectm bands` prints D."""

import socket
import time

import pytest

from spectm import cli


@pytest.fixture
def offline(monkeypatch):
    """A machine without DNS: records every name lookup and every sleep (a retry would show as either)."""
    events = {"lookups": [], "sleeps": []}

    def no_dns(host, *args, **kwargs):
        events["lookups"].append(host)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution (test: offline)")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    monkeypatch.setattr(time, "sleep", lambda seconds: events["sleeps"].append(seconds))
    return events


def test_bands_prints_28_on_the_model_grid(capsys):
    assert cli.main(["bands"]) == 0
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("paper122"))
    assert line.split()[-2:] == ["28", "9"]


@pytest.mark.parametrize("source, host", [("pace", "cmr.earthdata.nasa.gov"),
                                          ("gridmet", "www.northwestknowledge.net"),
                                          ("glerl", "raw.githubusercontent.com")])
def test_fetch_offline_gives_up_after_one_lookup_without_waiting(capsys, tmp_path, offline, source, host):
    assert cli.main(["fetch", source, "--out", str(tmp_path)]) == 2
    assert offline == {"lookups": [host], "sleeps": []}
    assert capsys.readouterr().err.startswith(f"Cannot reach {host}")
    assert not [path for path in tmp_path.rglob("*") if path.is_file()]


def test_fetch_offline_says_why_in_one_sentence(capsys, tmp_path):
    assert cli.main(["fetch", "pace", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("Cannot reach") and err.count(". ") == 0
    assert not any(tmp_path.iterdir())


def test_fetch_gridmet_offline(capsys, tmp_path):
    assert cli.main(["fetch", "gridmet", "--out", str(tmp_path)]) == 2
    assert "Cannot reach" in capsys.readouterr().err
