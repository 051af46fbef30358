"""The real-data path fails fast and clearly offline, and its downloads are verified, resumable and atomic.

Every test is offline: tests/conftest.py blocks non-loopback sockets, and the HTTP servers here live on
127.0.0.1 in a thread. Expected bytes and digests are computed from the served payload with hashlib,
independently of the code under test.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import earthaccess
import pytest
import requests

from spectm.data import access
from spectm.data.access import (
    DataAccessError,
    GranuleRecord,
    download_granules,
    download_url,
    earthdata_login,
    fetch_glerl,
    fetch_gridmet,
    granule_record,
    gridmet_url,
    search_pace_granules,
    with_default_timeout,
)

PAYLOAD = bytes(range(256)) * 40 + b"tail"  # 10,244 bytes, not a multiple of any chunk size
LAKE_ERIE_BBOX = (-83.5, 41.3, -82.45, 42.2)
TEA = "https://obdaac-tea.earthdatacloud.nasa.gov"


# ----------------------------------------------------------------------------------------------- fixtures


@pytest.fixture
def no_credentials(monkeypatch, tmp_path):
    """A fresh earthaccess Auth, no EARTHDATA_* variables, and a HOME without .netrc."""
    for name in ("EARTHDATA_USERNAME", "EARTHDATA_PASSWORD", "EARTHDATA_TOKEN", "NETRC"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(earthaccess, "_auth", earthaccess.Auth())
    return home


class _FileHandler(BaseHTTPRequestHandler):
    """Serves ``server.files`` with single-range ``bytes=N-`` support (switchable) and records headers."""

    def do_GET(self):  # noqa: N802 (http.server naming)
        server = self.server
        server.seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
        body = server.files.get(self.path)
        if not isinstance(body, bytes):  # None (unknown path) or an HTTP status to answer with
            self.send_response(body or 404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        start = 0
        range_header = self.headers.get("Range")
        if range_header and server.honour_range:
            start = int(range_header.removeprefix("bytes=").split("-")[0])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        chunk = body[start:]
        self.send_header("Content-Length", str(len(chunk)))
        self.send_header("Accept-Ranges", "bytes" if server.honour_range else "none")
        self.end_headers()
        if server.cut_next_after is not None:  # announce everything, send a prefix, drop the line
            self.wfile.write(chunk[: server.cut_next_after])
            self.wfile.flush()
            server.cut_next_after = None
            self.close_connection = True
            return
        self.wfile.write(chunk)

    def log_message(self, *args):
        pass


@pytest.fixture
def file_server(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FileHandler)
    server.files = {"/data/sample.nc": PAYLOAD}
    server.seen = []
    server.honour_range = True
    server.cut_next_after = None
    server.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def silent_server(monkeypatch):
    """Accepts TCP connections and never sends a byte."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    held, stop = [], threading.Event()

    def accept_and_hold():
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept_and_hold, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    listener.close()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -------------------------------------------------------------------------------------------------- login


def test_login_without_credentials_fails_at_once_naming_every_way_to_provide_them(no_credentials):
    started = time.monotonic()
    with pytest.raises(DataAccessError) as caught:
        earthdata_login()
    assert time.monotonic() - started < 2.0
    message = str(caught.value)
    for needed in ("EARTHDATA_USERNAME", "EARTHDATA_PASSWORD", "EARTHDATA_TOKEN", ".netrc", "urs.earthdata"):
        assert needed in message
    assert message.count(". ") == 0, "one sentence"


@pytest.mark.parametrize("strategy", ["environment", "netrc"])
def test_each_single_strategy_without_credentials_raises_the_same_clear_error(no_credentials, strategy):
    with pytest.raises(DataAccessError, match="No Earthdata credentials"):
        earthdata_login(strategy)


def test_interactive_login_is_refused(no_credentials):
    with pytest.raises(ValueError, match="strategy"):
        earthdata_login("interactive")


def test_token_in_environment_authenticates_without_network(no_credentials, monkeypatch):
    monkeypatch.setenv("EARTHDATA_TOKEN", "token-123")
    auth = earthdata_login()
    assert auth.authenticated
    assert auth.get_session().headers["Authorization"] == "Bearer token-123"


def test_netrc_credentials_with_network_blocked_say_the_login_server_is_unreachable(no_credentials):
    netrc = no_credentials / ".netrc"
    netrc.write_text("machine urs.earthdata.nasa.gov login someone password secret\n")
    netrc.chmod(0o600)
    started = time.monotonic()
    with pytest.raises(DataAccessError, match=r"Cannot reach urs\.earthdata\.nasa\.gov") as caught:
        earthdata_login()
    assert time.monotonic() - started < 5.0
    assert caught.value.__cause__ is not None


# ------------------------------------------------------------------------------------------------- search


def test_search_with_network_blocked_raises_one_clear_sentence_quickly(no_credentials):
    started = time.monotonic()
    with pytest.raises(DataAccessError) as caught:
        search_pace_granules("2024-07-01", "2024-07-08", LAKE_ERIE_BBOX)
    assert time.monotonic() - started < 5.0
    message = str(caught.value)
    assert message.startswith("Cannot reach cmr.earthdata.nasa.gov (network unavailable:")
    assert message.endswith("the offline default is source='twin'.")
    assert caught.value.__cause__ is not None


def test_search_rejects_a_malformed_bounding_box_before_any_request(no_credentials):
    with pytest.raises(ValueError, match="bbox"):
        search_pace_granules("2024-07-01", "2024-07-08", (-83.5, 41.3, -82.45))


def _umm_granule(name="PACE_OCI.20250305T160933.L2.OC_AOP.V3_1.nc", size_in_bytes=76229481, checksum=None):
    """A UMM-G granule shaped like CMR's answer for PACE_OCI_L2_AOP v3.1 (shared/specs/pace-oci.md)."""
    archive = {"Format": "netCDF-4", "MimeType": "application/x-netcdf", "Name": name}
    if size_in_bytes is not None:
        archive["SizeInBytes"] = size_in_bytes
    if checksum is not None:
        archive["Checksum"] = checksum
    return {
        "meta": {"concept-id": "G3745558662-OB_CLOUD", "provider-id": "OB_CLOUD"},
        "umm": {
            "GranuleUR": f"PACE_OCI_L2_AOP_{name}_3.1",
            "TemporalExtent": {
                "RangeDateTime": {
                    "BeginningDateTime": "2025-03-05T16:09:33Z",
                    "EndingDateTime": "2025-03-05T16:14:32Z",
                }
            },
            "CollectionReference": {"ShortName": "PACE_OCI_L2_AOP", "Version": "3.1"},
            "RelatedUrls": [
                {"URL": f"https://oceandata.sci.gsfc.nasa.gov/browse_images/{name}.png",
                 "Type": "GET RELATED VISUALIZATION"},
                {"URL": f"{TEA}/ob-cumulus-prod-public/{name}", "Type": "GET DATA"},
                {"URL": f"s3://ob-cumulus-prod-public/{name}", "Type": "GET DATA VIA DIRECT ACCESS"},
                {"URL": f"{TEA}/s3credentials", "Type": "VIEW RELATED INFORMATION"},
            ],
            "CloudCover": 93.1,
            "DataGranule": {"ArchiveAndDistributionInformation": [archive], "DayNightFlag": "Day"},
        },
    }


def test_granule_record_reads_name_size_url_and_time_from_umm():
    record = granule_record(_umm_granule())
    assert record == GranuleRecord(
        name="PACE_OCI.20250305T160933.L2.OC_AOP.V3_1.nc",
        url=f"{TEA}/ob-cumulus-prod-public/PACE_OCI.20250305T160933.L2.OC_AOP.V3_1.nc",
        size=76229481,
        checksum=None,
        checksum_algorithm=None,
        time_start="2025-03-05T16:09:33Z",
        cloud_cover=93.1,
    )


def test_granule_record_reads_a_checksum_and_accepts_an_earthaccess_datagranule():
    from earthaccess.results import DataGranule

    umm = _umm_granule(checksum={"Value": "0123abcd" * 8, "Algorithm": "SHA-256"})
    with pytest.warns(FutureWarning):  # earthaccess 0.17 warns about DataGranule.size() on construction
        granule = DataGranule(umm, cloud_hosted=True)
    record = granule_record(granule)
    assert (record.checksum, record.checksum_algorithm) == ("0123abcd" * 8, "SHA-256")
    assert record.url.startswith("https://obdaac-tea.")


def test_granule_record_drops_a_rounded_megabyte_size_and_names_missing_fields():
    umm = _umm_granule(size_in_bytes=None)
    umm["umm"]["DataGranule"]["ArchiveAndDistributionInformation"][0].update(Size=72.7, SizeUnit="MB")
    assert granule_record(umm).size is None
    umm["umm"]["RelatedUrls"] = [u for u in umm["umm"]["RelatedUrls"] if u["Type"] != "GET DATA"]
    with pytest.raises(ValueError, match="GET DATA"):
        granule_record(umm)


# ----------------------------------------------------------------------------------------------- download


def test_download_verifies_size_and_sha256_and_leaves_no_part(file_server, tmp_path):
    dest = tmp_path / "cache" / "sample.nc"
    url = f"{file_server.base}/data/sample.nc"
    path = download_url(url, dest, len(PAYLOAD), _sha256(PAYLOAD), progress=True)
    assert path == dest and dest.read_bytes() == PAYLOAD
    assert not (tmp_path / "cache" / "sample.nc.part").exists()


def test_sha256_mismatch_raises_and_leaves_neither_final_nor_partial_file(file_server, tmp_path):
    dest = tmp_path / "sample.nc"
    wrong = _sha256(PAYLOAD + b"x")
    with pytest.raises(DataAccessError, match="failed verification"):
        download_url(f"{file_server.base}/data/sample.nc", dest, sha256=wrong)
    assert not dest.exists()
    assert not (tmp_path / "sample.nc.part").exists()


def test_size_mismatch_raises_and_leaves_no_final_file(file_server, tmp_path):
    dest = tmp_path / "sample.nc"
    with pytest.raises(DataAccessError):
        download_url(f"{file_server.base}/data/sample.nc", dest, expected_size=len(PAYLOAD) - 1)
    assert not dest.exists()


def test_existing_part_is_resumed_with_a_range_request_and_is_byte_identical(file_server, tmp_path):
    dest = tmp_path / "sample.nc"
    (tmp_path / "sample.nc.part").write_bytes(PAYLOAD[:1000])
    download_url(f"{file_server.base}/data/sample.nc", dest, len(PAYLOAD), _sha256(PAYLOAD))
    assert [r.get("range") for r in file_server.seen] == ["bytes=1000-"]
    assert dest.read_bytes() == PAYLOAD


def test_a_server_without_range_support_restarts_the_transfer_cleanly(file_server, tmp_path):
    file_server.honour_range = False
    dest = tmp_path / "sample.nc"
    (tmp_path / "sample.nc.part").write_bytes(PAYLOAD[:1000])
    download_url(f"{file_server.base}/data/sample.nc", dest, len(PAYLOAD), _sha256(PAYLOAD))
    assert dest.read_bytes() == PAYLOAD


def test_a_transfer_cut_short_keeps_its_part_and_the_next_call_resumes(file_server, tmp_path, monkeypatch):
    monkeypatch.setattr(access, "_CHUNK_BYTES", 1024)  # bytes read in whole chunks before the cut are kept
    file_server.cut_next_after = 4096
    url, dest = f"{file_server.base}/data/sample.nc", tmp_path / "sample.nc"
    with pytest.raises(DataAccessError):
        download_url(url, dest)  # no expected size: the announced Content-Length is the check
    assert not dest.exists()
    assert (tmp_path / "sample.nc.part").read_bytes() == PAYLOAD[:4096]
    download_url(url, dest, sha256=_sha256(PAYLOAD))
    assert file_server.seen[-1].get("range") == "bytes=4096-"
    assert dest.read_bytes() == PAYLOAD


def test_a_complete_part_is_finished_without_downloading_again(file_server, tmp_path):
    dest = tmp_path / "sample.nc"
    (tmp_path / "sample.nc.part").write_bytes(PAYLOAD)
    download_url(f"{file_server.base}/data/sample.nc", dest, sha256=_sha256(PAYLOAD))  # server answers 416
    assert dest.read_bytes() == PAYLOAD and not (tmp_path / "sample.nc.part").exists()


def test_a_verified_file_is_not_downloaded_again_but_a_wrong_one_is(file_server, tmp_path):
    url, dest = f"{file_server.base}/data/sample.nc", tmp_path / "sample.nc"
    download_url(url, dest, len(PAYLOAD), _sha256(PAYLOAD))
    download_url(url, dest, len(PAYLOAD), _sha256(PAYLOAD))
    assert len(file_server.seen) == 1
    dest.write_bytes(PAYLOAD[:-1] + b"!")  # same size, corrupted
    download_url(url, dest, len(PAYLOAD), _sha256(PAYLOAD))
    assert len(file_server.seen) == 2 and dest.read_bytes() == PAYLOAD


def test_http_errors_become_one_clear_sentence(file_server, tmp_path):
    with pytest.raises(DataAccessError, match="HTTP 404"):
        download_url(f"{file_server.base}/data/missing.nc", tmp_path / "missing.nc")
    assert not (tmp_path / "missing.nc").exists()


def test_a_refused_download_says_how_to_log_in(file_server, tmp_path):
    file_server.files["/protected.nc"] = 401
    with pytest.raises(DataAccessError, match=r"HTTP 401.*earthdata_login\(\).*EARTHDATA_TOKEN"):
        download_url(f"{file_server.base}/protected.nc", tmp_path / "protected.nc")


def _raised_within(seconds, call):
    """Run ``call`` in a daemon thread; return what it raised, failing (not hanging) after ``seconds``."""
    outcome = []

    def target():
        try:
            call()
            outcome.append(None)
        except BaseException as error:  # noqa: BLE001 (handed back to the test)
            outcome.append(error)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"the call was still waiting after {seconds} s: its timeout was not applied"
    return outcome[0]


def test_a_server_that_never_answers_ends_within_its_timeout(silent_server, tmp_path):
    dest = tmp_path / "sample.nc"
    error = _raised_within(10.0, lambda: download_url(f"{silent_server}/data/x.nc", dest, timeout=(1, 1)))
    assert isinstance(error, DataAccessError)
    assert "no answer within the 1 s connect / 1 s read timeout" in str(error)
    assert isinstance(error.__cause__, requests.exceptions.RequestException)
    assert not dest.exists()


def test_sessions_gain_a_default_timeout_for_calls_that_give_none(silent_server):
    session = with_default_timeout(requests.Session(), (1, 1))
    error = _raised_within(10.0, lambda: session.get(f"{silent_server}/anything"))  # no timeout given
    assert isinstance(error, requests.exceptions.Timeout)


def test_download_granules_uses_umm_checksum_and_the_earthdata_token(
    file_server, tmp_path, no_credentials, monkeypatch
):
    monkeypatch.setenv("EARTHDATA_TOKEN", "token-xyz")
    good = GranuleRecord(
        name="sample.nc",
        url=f"{file_server.base}/data/sample.nc",
        size=len(PAYLOAD),
        checksum=hashlib.md5(PAYLOAD).hexdigest(),
        checksum_algorithm="MD5",
    )
    [path] = download_granules([good], tmp_path / "granules", progress=False)
    assert path.read_bytes() == PAYLOAD
    assert file_server.seen[0]["authorization"] == "Bearer token-xyz"
    bad = GranuleRecord(
        name="other.nc", url=good.url, size=len(PAYLOAD), checksum="0" * 32, checksum_algorithm="MD5"
    )
    with pytest.raises(DataAccessError, match="md5"):
        download_granules([bad], tmp_path / "granules", progress=False)
    assert not (tmp_path / "granules" / "other.nc").exists()


def test_a_filled_cache_needs_neither_credentials_nor_network(file_server, tmp_path, no_credentials):
    record = GranuleRecord(name="sample.nc", url=f"{TEA}/x/sample.nc", size=len(PAYLOAD))
    (tmp_path / "sample.nc").write_bytes(PAYLOAD)
    assert download_granules([record], tmp_path) == [tmp_path / "sample.nc"]
    missing = GranuleRecord(name="absent.nc", url=record.url, size=10)
    with pytest.raises(DataAccessError, match="No Earthdata credentials"):
        download_granules([missing], tmp_path)


# ------------------------------------------------------------------------------------- GLERL and gridMET


def test_gridmet_url_follows_the_direct_yearly_pattern():
    assert gridmet_url("tmmx", 2024) == "https://www.northwestknowledge.net/metdata/data/tmmx_2024.nc"
    assert gridmet_url("pr", 1979) == "https://www.northwestknowledge.net/metdata/data/pr_1979.nc"
    with pytest.raises(ValueError, match="variable"):
        gridmet_url("temperature", 2024)
    with pytest.raises(ValueError, match="1979"):
        gridmet_url("pr", 1978)


def test_gridmet_and_glerl_offline_fail_fast_naming_the_host(tmp_path):
    started = time.monotonic()
    with pytest.raises(DataAccessError, match=r"Cannot reach www\.northwestknowledge\.net"):
        fetch_gridmet(["pr"], [2024], tmp_path)
    with pytest.raises(DataAccessError, match=r"Cannot reach raw\.githubusercontent\.com"):
        fetch_glerl(tmp_path)
    assert time.monotonic() - started < 5.0
    assert list(tmp_path.iterdir()) == []


def test_fetch_glerl_downloads_a_csv_from_any_url(file_server, tmp_path):
    csv = b",station_name,timestamp,lat,lon\n0,WE2,2024-07-15 12:05:00,41.7618,-83.3311\n"
    file_server.files["/glrl-hab-data.csv"] = csv
    path = fetch_glerl(tmp_path, url=f"{file_server.base}/glrl-hab-data.csv", expected_size=len(csv))
    assert path.name == "glrl-hab-data.csv" and path.read_bytes() == csv


def test_the_pinned_glerl_file_is_checked_against_its_published_size():
    assert access.GLERL_COMPILED_SIZE == 108_218
    assert "10923ee995b1ab2ca1f4d56eda63457cd4dc1538" in access.GLERL_COMPILED_URL
    assert len(access.GRIDMET_VARIABLES) == 16


def test_an_offline_dns_failure_reads_as_one_short_sentence():
    from urllib3.connection import HTTPSConnection
    from urllib3.exceptions import MaxRetryError, NameResolutionError

    conn = HTTPSConnection("cmr.earthdata.nasa.gov")
    no_dns = socket.gaierror(-2, "Name or service not known")
    resolve = NameResolutionError("cmr.earthdata.nasa.gov", conn, no_dns)
    error = requests.exceptions.ConnectionError(MaxRetryError(None, "/search/granules.umm_json", resolve))
    assert str(access._unreachable("cmr.earthdata.nasa.gov", error)) == (
        "Cannot reach cmr.earthdata.nasa.gov (network unavailable: "
        "Failed to resolve 'cmr.earthdata.nasa.gov' ([Errno -2] Name or service not known)); "
        "the offline default is source='twin'."
    )
