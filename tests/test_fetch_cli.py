"""`spectm fetch`: every year a source covers lands where `lake_erie_data` looks, and every failure -
no data that year, unreachable, cut short, not the file - is one sentence on stderr with exit code 2.

The sources are replaced by a server on 127.0.0.1 (bound to port 0, socket kept); nothing measures time.
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from spectm import cli
from spectm.data import access

HDF5_FILE = b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 4
NCEI_HEADER = b"Date,Site,Station Depth (m),Particulate Microcystin (\xb5g/L)\r\n5/15/2012,WE2,5.9,0.3\r\n"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server naming)
        self.server.seen.append(self.path)
        body = self.server.files.get(self.path)
        if body is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", '"v1"')
        self.end_headers()
        cut = self.server.cut_after
        self.wfile.write(body if cut is None else body[:cut])

    def log_message(self, *args):
        pass


@pytest.fixture
def sources(monkeypatch):
    """A local server standing in for the GitHub copies of GLERL and for gridMET's host."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.files, server.seen, server.cut_after = {}, [], None
    base = f"http://127.0.0.1:{server.server_address[1]}"
    for name in access.GLERL_RAW_URLS:
        monkeypatch.setitem(access.GLERL_RAW_URLS, name, f"{base}/glerl/{name}")
    monkeypatch.setattr(access, "GRIDMET_BASE_URL", f"{base}/metdata")
    monkeypatch.setattr(access, "GRIDMET_VARIABLES", ("pr", "tmmx"))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def lookups(monkeypatch):
    seen, guarded = [], socket.getaddrinfo
    def counting(host, *args, **kwargs):
        seen.append(host)
        return guarded(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", counting)
    return seen


def _one_clear_sentence(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.count(". ") == 0 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(
    ("source", "year", "says"),
    [
        ("glerl", 2023, "none holds 2023"),
        ("glerl", 2011, "no public western Lake Erie samples for 2011"),
        ("glerl", 2026, "for 2026"),
        ("gridmet", 1970, "gridMET has no yearly files for 1970"),
        ("gridmet", 2027, "covers 1979 to 2026"),
        ("pace", 2027, "run to 2026"),
        ("pace", 2023, "PACE OCI has no granules for 2023"),
    ],
)
def test_a_year_without_data_is_one_sentence_at_once(
    capsys, tmp_path, lookups, monkeypatch, source, year, says
):
    monkeypatch.setattr(access, "_current_year", lambda: 2026)  # no dependence on today's date
    assert cli.main(["fetch", source, "--year", str(year), "--out", str(tmp_path)]) == 2
    assert says in _one_clear_sentence(capsys)
    assert lookups == [] and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("year", [2012, 2015, 2019, 2021, 2022, 2024, 2025])
def test_fetch_glerl_puts_the_season_file_where_lake_erie_data_reads_it(capsys, tmp_path, sources, year):
    [name] = access.glerl_files_for_year(year)
    column = access.GLERL_HEADER_COLUMNS[name].encode("latin-1")
    body = b"Date,Site," + column + b"x\r\n5/15/2012,WE2,0.3\r\n"
    sources.files[f"/glerl/{name}"] = body
    assert cli.main(["fetch", "glerl", "--year", str(year), "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in (tmp_path / "glerl").glob("*.csv")) == [name]
    assert (tmp_path / "glerl" / name).read_bytes() == body
    assert capsys.readouterr().out.strip() == f"1 verified files in {tmp_path}/glerl"


def test_fetch_glerl_2012_reads_the_latin1_ncei_header(tmp_path, sources):
    name = "lake_erie_habs_field_sampling_results_2012_2018.csv"
    sources.files[f"/glerl/{name}"] = NCEI_HEADER
    assert cli.main(["fetch", "glerl", "--year", "2012", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "glerl" / name).read_bytes() == NCEI_HEADER


def test_fetch_gridmet_writes_every_variable_of_the_year(capsys, tmp_path, sources):
    for variable in ("pr", "tmmx"):
        sources.files[f"/metdata/{variable}_2020.nc"] = HDF5_FILE
    assert cli.main(["fetch", "gridmet", "--year", "2020", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in (tmp_path / "gridmet").glob("*_2020.nc")) == ["pr_2020.nc", "tmmx_2020.nc"]


def test_a_transfer_cut_short_says_cut_short_not_network_unavailable(capsys, tmp_path, sources):
    sources.files["/metdata/pr_2020.nc"] = HDF5_FILE
    sources.cut_after = 100
    assert cli.main(["fetch", "gridmet", "--year", "2020", "--out", str(tmp_path)]) == 2
    err = _one_clear_sentence(capsys)
    assert "was cut short after" in err and "network unavailable" not in err and "call again to resume" in err


def test_an_error_page_says_html_not_network_unavailable(capsys, tmp_path, sources):
    sources.files["/metdata/pr_2020.nc"] = b"<html><body>Service temporarily unavailable</body></html>"
    assert cli.main(["fetch", "gridmet", "--year", "2020", "--out", str(tmp_path)]) == 2
    err = _one_clear_sentence(capsys)
    assert "HTML page (a login or error page?)" in err and not list((tmp_path / "gridmet").glob("*.nc"))


def test_a_missing_file_says_http_404(capsys, tmp_path, sources):
    assert cli.main(["fetch", "glerl", "--year", "2019", "--out", str(tmp_path)]) == 2
    assert "HTTP 404" in _one_clear_sentence(capsys)


def test_an_unreachable_source_says_cannot_reach(capsys, tmp_path, lookups):
    assert cli.main(["fetch", "glerl", "--year", "2019", "--out", str(tmp_path)]) == 2
    err = _one_clear_sentence(capsys)
    assert err.startswith("Cannot reach raw.githubusercontent.com (network unavailable")
    assert lookups == ["raw.githubusercontent.com"]
