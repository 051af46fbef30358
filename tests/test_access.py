"""The real-data path fails fast and clearly offline, and its downloads are verified, resumable, atomic and
safe against hostile or flaky servers.

Every test is offline: tests/conftest.py blocks non-loopback sockets, and the HTTP servers here live on
127.0.0.1 in a thread (bound to port 0, the socket kept for the server's life). Expected bytes and digests
are computed from the served payload with hashlib, independently of the code under test. Nothing here
measures elapsed time: "at once" means no request or name lookup was made, "no retries" means one.
"""

from __future__ import annotations

import builtins
import hashlib
import socket
import threading
import time
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import earthaccess
import pytest
import requests

from spectm.data import access
from spectm.data.access import (
    DataAccessError,
    DownloadCutShort,
    DownloadTooSlow,
    GranuleRecord,
    NotTheExpectedFile,
    UnavailableYear,
    UnsafeFileName,
    download_granules,
    download_url,
    earthdata_login,
    fetch_glerl,
    fetch_glerl_year,
    fetch_gridmet,
    granule_record,
    gridmet_url,
    search_pace_granules,
    with_default_timeout,
)

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# 10,252 bytes: the HDF5 signature (so it passes as a netCDF-4 file) then a body that is not a multiple of
# any chunk size; byte 13 (size of offsets) is 5, so no superblock end-of-file address is read from it.
PAYLOAD = HDF5_SIGNATURE + bytes(range(256)) * 40 + b"tail"
LAKE_ERIE_BBOX = (-83.5, 41.3, -82.45, 42.2)
TEA = "https://obdaac-tea.earthdatacloud.nasa.gov"
HTML_PAGE = b"<!DOCTYPE html>\n<html><head><title>Earthdata Login</title></head><body>Sign in</body></html>\n"
DATASHARE_HEADER = (
    b"Date,Site,Station_Depth_m,Sample_Depth_m,Sample_Depth_category,Arrival_Time,Departure_Time,Lat_deg,"
    b"Long_deg,Wind_speed_ms-1,Sky,Secchi_Depth_m,Temp_C,SpCond_uScm-1,BeamAtten_m-1,Transmiss_pct,DO_mgL-1,"
    b"PAR_uEcm-2s-1,Turbidity_NTU,Particulate_Microcystin_ugL-1,Dissolved_Microcystin_ugL-1,"
    b"Extracted_PC_ugL-1,"
    b"Extracted_CHLa_ugL-1,Total_cyanobacteria_genes_copiesmL-1,mycE_genes_copiesmL-1\r\n"
)
DATASHARE_ROW = b"7/15/2024,WE8,5.31,1,Surface,8:20,8:37,41.83,-83.36" + b",1" * 16 + b"\r\n"
DATASHARE_CSV = DATASHARE_HEADER + DATASHARE_ROW


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


@pytest.fixture
def lookups(monkeypatch):
    """Every host name resolved during the test (the conftest guard still refuses non-loopback ones)."""
    seen = []
    guarded = socket.getaddrinfo

    def counting_getaddrinfo(host, *args, **kwargs):
        seen.append(host)
        return guarded(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", counting_getaddrinfo)
    return seen


def _validators(server, body: bytes) -> dict:
    digest = hashlib.sha256(body).hexdigest()
    headers = {}
    if "etag" in server.validators:
        headers["ETag"] = f'"{digest[:16]}"'
    if "last-modified" in server.validators:
        headers["Last-Modified"] = f"Mon, 01 Jan 2024 00:{int(digest[:2], 16) % 60:02d}:00 GMT"
    return headers


class _FileHandler(BaseHTTPRequestHandler):
    """Serves ``server.files``: single ``bytes=N-`` ranges honouring ``If-Range``, validators, redirects,
    a cut connection, a trickle, or a hold until released; records the headers of every request."""

    def do_GET(self):  # noqa: N802 (http.server naming)
        server = self.server
        server.seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
        if server.hold is not None:
            server.hold.wait(30)
        body = server.files.get(self.path)
        if isinstance(body, str):  # a redirect target
            self.send_response(302)
            self.send_header("Location", body)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if not isinstance(body, bytes):  # None (unknown path) or an HTTP status to answer with
            self.send_response(body or 404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        validators = _validators(server, body)
        start = self._range_start(body, validators)
        if start is None:
            return
        chunk = body[start:]
        self.send_header("Content-Length", str(len(chunk)))
        self.send_header("Accept-Ranges", "bytes" if server.honour_range else "none")
        for name, value in validators.items():
            self.send_header(name, value)
        self.end_headers()
        self._send_body(chunk)

    def _range_start(self, body, validators):
        """Send the status line for the range asked; return the first byte to send (None: answered)."""
        range_header, if_range = self.headers.get("Range"), self.headers.get("If-Range")
        current = set(validators.values())
        changed = if_range is not None and if_range not in current
        if not (range_header and self.server.honour_range) or changed:
            self.send_response(200)  # no range asked, ranges off, or the copy changed since If-Range
            return 0
        start = int(range_header.removeprefix("bytes=").split("-")[0])
        if start >= len(body):
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(body)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        return start

    def _send_body(self, chunk):
        server = self.server
        if server.cut_next_after is not None:  # announce everything, send a prefix, drop the line
            self.wfile.write(chunk[: server.cut_next_after])
            self.wfile.flush()
            server.cut_next_after = None
            self.close_connection = True
            return
        if server.trickle_pause is not None:  # one byte at a time until the client hangs up
            for i in range(len(chunk)):
                time.sleep(server.trickle_pause)  # not Event.wait: its timeout never fires under faketime
                if server.stop.is_set():
                    return
                try:
                    self.wfile.write(chunk[i : i + 1])
                    self.wfile.flush()
                except OSError:
                    return
                server.trickled += 1
            return
        self.wfile.write(chunk)

    def log_message(self, *args):
        pass


@pytest.fixture
def file_server(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FileHandler)  # port 0: the kernel picks, we keep it
    server.daemon_threads = True
    server.files = {"/data/sample.nc": PAYLOAD}
    server.seen = []
    server.honour_range = True
    server.validators = ("etag",)
    server.cut_next_after = None
    server.trickle_pause = None
    server.trickled = 0
    server.hold = None
    server.stop = threading.Event()
    server.port = server.server_address[1]
    server.base = f"http://127.0.0.1:{server.port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.stop.set()
    if server.hold is not None:
        server.hold.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def silent_server(monkeypatch):
    """Accepts TCP connections and never sends a byte; ``accepted`` counts the connections."""
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

    yield types.SimpleNamespace(url=f"http://127.0.0.1:{listener.getsockname()[1]}", accepted=held)
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    listener.close()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _one_sentence(message: str) -> bool:
    return message.count(". ") == 0 and "\n" not in message and "Traceback" not in message


def _parts(folder) -> list:
    return sorted(p.name for p in folder.iterdir() if ".part" in p.name)


def _finished_within_hang_guard(call, guard_s=60.0):
    """Run ``call`` in a daemon thread and return what it raised (None if nothing). ``guard_s`` only
    keeps a broken timeout from hanging the suite; no test asserts on elapsed time."""
    outcome = []

    def target():
        try:
            call()
            outcome.append(None)
        except BaseException as error:  # noqa: BLE001 (handed back to the test)
            outcome.append(error)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(guard_s)
    assert outcome, f"the call was still waiting after {guard_s} s: its timeout was not applied"
    return outcome[0]


# -------------------------------------------------------------------------------------------------- login


def test_login_without_credentials_fails_at_once_naming_every_way_to_provide_them(
    no_credentials, lookups, monkeypatch
):
    prompts = []
    monkeypatch.setattr(builtins, "input", lambda *a: prompts.append(a) or "")
    with pytest.raises(DataAccessError) as caught:
        earthdata_login()
    assert lookups == [] and prompts == [], "no request and no prompt: the error comes at once"
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


def test_token_in_environment_authenticates_without_network(no_credentials, monkeypatch, lookups):
    monkeypatch.setenv("EARTHDATA_TOKEN", "token-123")
    auth = earthdata_login()
    assert auth.authenticated and lookups == []
    assert auth.get_session().headers["Authorization"] == "Bearer token-123"


def test_netrc_credentials_with_network_blocked_say_the_login_server_is_unreachable(no_credentials, lookups):
    netrc = no_credentials / ".netrc"
    netrc.write_text("machine urs.earthdata.nasa.gov login someone password secret\n")
    netrc.chmod(0o600)
    with pytest.raises(DataAccessError, match=r"Cannot reach urs\.earthdata\.nasa\.gov") as caught:
        earthdata_login()
    assert lookups == ["urs.earthdata.nasa.gov"], "one attempt, no retries"
    assert caught.value.__cause__ is not None


# ------------------------------------------------------------------------------------------------- search


def test_search_with_network_blocked_raises_one_clear_sentence_after_one_attempt(no_credentials, lookups):
    with pytest.raises(DataAccessError) as caught:
        search_pace_granules("2024-07-01", "2024-07-08", LAKE_ERIE_BBOX)
    assert lookups == ["cmr.earthdata.nasa.gov"], "one attempt, no retries"
    message = str(caught.value)
    assert message.startswith("Cannot reach cmr.earthdata.nasa.gov (network unavailable:")
    assert message.endswith("the offline default is source='twin'.")
    assert caught.value.__cause__ is not None


def test_search_rejects_a_malformed_bounding_box_before_any_request(no_credentials, lookups):
    with pytest.raises(ValueError, match="bbox"):
        search_pace_granules("2024-07-01", "2024-07-08", (-83.5, 41.3, -82.45))
    assert lookups == []


def _umm_granule(name="PACE_OCI.20250305T160933.L2.OC_AOP.V3_1.nc", size_in_bytes=76229481, checksum=None):
    """A UMM-G granule shaped like CMR's answer for PACE_OCI_L2_AOP v3.1 (NASA CMR; book/sources.md)."""
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
    assert _parts(tmp_path / "cache") == []


def test_sha256_mismatch_raises_and_leaves_neither_final_nor_partial_file(file_server, tmp_path):
    dest = tmp_path / "sample.nc"
    wrong = _sha256(PAYLOAD + b"x")
    with pytest.raises(NotTheExpectedFile, match="failed verification"):
        download_url(f"{file_server.base}/data/sample.nc", dest, sha256=wrong)
    assert not dest.exists() and _parts(tmp_path) == []


def test_size_mismatch_raises_and_leaves_no_final_file(file_server, tmp_path):
    dest = tmp_path / "sample.nc"
    with pytest.raises(DataAccessError):
        download_url(f"{file_server.base}/data/sample.nc", dest, expected_size=len(PAYLOAD) - 1)
    assert not dest.exists()


def _cut_first_attempt(server, url, dest, after=4096):
    """A first attempt that the server cuts after ``after`` bytes; returns its error."""
    server.cut_next_after = after
    with pytest.raises(DownloadCutShort) as caught:
        download_url(url, dest)  # no expected size: the announced Content-Length is the check
    return caught.value


def test_a_transfer_cut_short_says_so_keeps_its_part_and_the_next_call_resumes(file_server, tmp_path):
    url, dest = f"{file_server.base}/data/sample.nc", tmp_path / "sample.nc"
    error = _cut_first_attempt(file_server, url, dest)
    message = str(error)
    assert "cut short after 4096 of 10252 bytes" in message and "network unavailable" not in message
    assert _one_sentence(message) and not dest.exists()
    [part] = [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
    assert part.read_bytes() == PAYLOAD[:4096]
    download_url(url, dest, sha256=_sha256(PAYLOAD))
    etag = _validators(file_server, PAYLOAD)["ETag"]
    assert (file_server.seen[-1].get("range"), file_server.seen[-1].get("if-range")) == ("bytes=4096-", etag)
    assert dest.read_bytes() == PAYLOAD and _parts(tmp_path) == []


def test_a_file_changed_on_the_server_between_attempts_is_fetched_whole_not_spliced(file_server, tmp_path):
    """gridMET's current-year file changes daily: Range without If-Range would splice two versions."""
    url, dest = f"{file_server.base}/data/sample.nc", tmp_path / "sample.nc"
    _cut_first_attempt(file_server, url, dest)
    changed = HDF5_SIGNATURE + bytes(reversed(range(256))) * 40 + b"TAIL"  # same length, new content
    file_server.files["/data/sample.nc"] = changed
    download_url(url, dest)
    assert file_server.seen[-1].get("if-range") == _validators(file_server, PAYLOAD)["ETag"]
    assert dest.read_bytes() == changed


def test_resume_uses_last_modified_when_there_is_no_etag(file_server, tmp_path):
    file_server.validators = ("last-modified",)
    url, dest = f"{file_server.base}/data/sample.nc", tmp_path / "sample.nc"
    _cut_first_attempt(file_server, url, dest)
    download_url(url, dest)
    expected = _validators(file_server, PAYLOAD)["Last-Modified"]
    last = file_server.seen[-1]
    assert (last.get("range"), last.get("if-range")) == ("bytes=4096-", expected)
    assert dest.read_bytes() == PAYLOAD


def test_without_a_validator_the_next_call_restarts_instead_of_resuming(file_server, tmp_path):
    file_server.validators = ()
    url, dest = f"{file_server.base}/data/sample.nc", tmp_path / "sample.nc"
    _cut_first_attempt(file_server, url, dest)
    download_url(url, dest)
    assert "range" not in file_server.seen[-1]
    assert dest.read_bytes() == PAYLOAD and _parts(tmp_path) == []


def test_a_server_without_range_support_restarts_the_transfer_cleanly(file_server, tmp_path):
    url, dest = f"{file_server.base}/data/sample.nc", tmp_path / "sample.nc"
    _cut_first_attempt(file_server, url, dest)
    file_server.honour_range = False
    download_url(url, dest, len(PAYLOAD), _sha256(PAYLOAD))
    assert dest.read_bytes() == PAYLOAD and _parts(tmp_path) == []


def test_a_complete_part_is_finished_without_downloading_again(file_server, tmp_path):
    url, dest = f"{file_server.base}/data/sample.nc", tmp_path / "sample.nc"
    _cut_first_attempt(file_server, url, dest, after=len(PAYLOAD) - 1)
    file_server.files["/data/sample.nc"] = PAYLOAD[:-1]  # now the .part holds every byte: the server says 416
    download_url(url, dest)
    assert dest.read_bytes() == PAYLOAD[:-1] and _parts(tmp_path) == []
    assert len(file_server.seen) == 2


def test_a_verified_file_is_not_downloaded_again_but_a_wrong_one_is(file_server, tmp_path):
    url, dest = f"{file_server.base}/data/sample.nc", tmp_path / "sample.nc"
    download_url(url, dest, len(PAYLOAD), _sha256(PAYLOAD))
    download_url(url, dest, len(PAYLOAD), _sha256(PAYLOAD))
    assert len(file_server.seen) == 1
    dest.write_bytes(PAYLOAD[:-1] + b"!")  # same size, corrupted
    download_url(url, dest, len(PAYLOAD), _sha256(PAYLOAD))
    assert len(file_server.seen) == 2 and dest.read_bytes() == PAYLOAD


def test_http_errors_become_one_clear_sentence(file_server, tmp_path):
    with pytest.raises(DataAccessError, match="HTTP 404") as caught:
        download_url(f"{file_server.base}/data/missing.nc", tmp_path / "missing.nc")
    assert _one_sentence(str(caught.value)) and not (tmp_path / "missing.nc").exists()


def test_a_refused_download_says_how_to_log_in(file_server, tmp_path):
    file_server.files["/protected.nc"] = 401
    with pytest.raises(DataAccessError, match=r"HTTP 401.*earthdata_login\(\).*EARTHDATA_TOKEN"):
        download_url(f"{file_server.base}/protected.nc", tmp_path / "protected.nc")


def test_a_server_that_never_answers_ends_with_one_timeout_and_no_retry(silent_server, tmp_path):
    dest = tmp_path / "sample.nc"
    url = f"{silent_server.url}/data/x.nc"
    error = _finished_within_hang_guard(lambda: download_url(url, dest, timeout=(1, 1)))
    assert isinstance(error, DataAccessError) and not isinstance(error, DownloadCutShort)
    assert "no answer within the 1 s connect / 1 s read timeout" in str(error)
    assert isinstance(error.__cause__, requests.exceptions.Timeout)
    assert len(silent_server.accepted) == 1, "one connection: no retries"
    assert not dest.exists()


def test_sessions_gain_a_default_timeout_for_calls_that_give_none(silent_server):
    session = with_default_timeout(requests.Session(), (1, 1))
    url = f"{silent_server.url}/anything"
    error = _finished_within_hang_guard(lambda: session.get(url))  # no timeout given
    assert isinstance(error, requests.exceptions.Timeout)
    assert len(silent_server.accepted) == 1


# ------------------------------------------------------------------------------- not the file asked for


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (HTML_PAGE, "the server sent an HTML page (a login or error page?) instead of a netCDF"),
        (b"  \r\n<html><body>502 Bad Gateway</body></html>", "HTML page"),
        (b"Service Unavailable", "neither the HDF5 nor the netCDF-3 signature"),
        (b"", "empty body"),
    ],
)
def test_an_error_page_served_with_200_never_enters_the_cache(file_server, tmp_path, body, says):
    file_server.files["/data/page.nc"] = body
    url, dest = f"{file_server.base}/data/page.nc", tmp_path / "page.nc"
    for attempt in (1, 2):  # not cached: the second call asks the server again
        with pytest.raises(NotTheExpectedFile) as caught:
            download_url(url, dest)
        assert says in str(caught.value) and _one_sentence(str(caught.value))
        assert not dest.exists() and _parts(tmp_path) == []
        assert len(file_server.seen) == attempt


def test_an_html_page_already_cached_under_a_data_name_is_fetched_again(file_server, tmp_path):
    dest = tmp_path / "sample.nc"
    dest.write_bytes(HTML_PAGE)  # left by an earlier version of the downloader
    download_url(f"{file_server.base}/data/sample.nc", dest)
    assert dest.read_bytes() == PAYLOAD and len(file_server.seen) == 1


def test_pace_granules_must_be_hdf5_and_as_long_as_their_superblock_says(file_server, tmp_path):
    classic = b"CDF\x01" + bytes(200)
    superblock_v2 = HDF5_SIGNATURE + bytes([2, 8, 8, 0]) + (0).to_bytes(8, "little") + (2**64 - 1).to_bytes(
        8, "little"
    ) + (5000).to_bytes(8, "little")
    file_server.files.update({"/a.nc": classic, "/b.nc": superblock_v2 + bytes(1000)})
    for name, says in (("a.nc", "HDF5 signature"), ("b.nc", "superblock says 5000 bytes, 1036 arrived")):
        record = GranuleRecord(name=name, url=f"{file_server.base}/{name}")
        with pytest.raises(NotTheExpectedFile, match=says):
            download_granules([record], tmp_path, session=requests.Session())
        assert not (tmp_path / name).exists()


def test_a_real_netcdf4_file_cut_in_half_but_served_as_complete_is_refused(file_server, tmp_path):
    netCDF4 = pytest.importorskip("netCDF4")
    written = tmp_path / "written.nc"
    with netCDF4.Dataset(written, "w", format="NETCDF4") as ds:
        ds.createDimension("x", 2000)
        ds.createVariable("v", "f4", ("x",))[:] = range(2000)
    whole = written.read_bytes()
    file_server.files["/half.nc"] = whole[: len(whole) // 2]  # Content-Length says this half is all
    file_server.files["/whole.nc"] = whole
    with pytest.raises(NotTheExpectedFile, match=f"superblock says {len(whole)} bytes"):
        download_url(f"{file_server.base}/half.nc", tmp_path / "cache" / "half.nc")
    assert download_url(f"{file_server.base}/whole.nc", tmp_path / "cache" / "whole.nc").read_bytes() == whole


def test_gridmet_accepts_netcdf3_classic_files(file_server, tmp_path, monkeypatch):
    classic = b"CDF\x01" + bytes(300)
    file_server.files["/metdata/pr_2020.nc"] = classic
    monkeypatch.setattr(access, "GRIDMET_BASE_URL", f"{file_server.base}/metdata")
    assert fetch_gridmet(["pr"], [2020], tmp_path)[("pr", 2020)].read_bytes() == classic


def test_gridmet_refuses_an_html_page(file_server, tmp_path, monkeypatch):
    file_server.files["/metdata/pr_2020.nc"] = HTML_PAGE
    monkeypatch.setattr(access, "GRIDMET_BASE_URL", f"{file_server.base}/metdata")
    with pytest.raises(NotTheExpectedFile, match="HTML page"):
        fetch_gridmet(["pr"], [2020], tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing cached, not even the lock file


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (HTML_PAGE, "HTML page"),
        (b"Date,Site,Temp_C\r\n4/24/2024,WE2,12\r\n", "no 'Particulate_Microcystin_ugL-1' column"),
        (b"\x00\x01PK\x03\x04", "binary data"),
    ],
)
def test_a_glerl_file_must_have_its_header(file_server, tmp_path, monkeypatch, body, says):
    name = "2024_WLE_Weekly_Datashare_CSV.csv"
    file_server.files[f"/glerl/{name}"] = body
    monkeypatch.setitem(access.GLERL_RAW_URLS, name, f"{file_server.base}/glerl/{name}")
    with pytest.raises(NotTheExpectedFile, match=says):
        fetch_glerl_year(2024, tmp_path)
    assert not (tmp_path / name).exists()


# ----------------------------------------------------------------------------------- unsafe file names


@pytest.mark.parametrize("name", ["../../x.nc", "ABSOLUTE", "sub/x.nc", "a\\x.nc", "..", "", ".x.nc"])
def test_a_granule_name_that_is_not_a_plain_file_name_is_refused_before_any_request(
    file_server, tmp_path, name, lookups
):
    cache = tmp_path / "a" / "b" / "cache"
    name = str(tmp_path / "x.nc") if name == "ABSOLUTE" else name
    good = GranuleRecord(name="sample.nc", url=f"{file_server.base}/data/sample.nc", size=len(PAYLOAD))
    bad = GranuleRecord(name=name, url=f"{file_server.base}/data/sample.nc", size=len(PAYLOAD))
    with pytest.raises(UnsafeFileName) as caught:
        download_granules([good, bad], cache, session=requests.Session())
    assert repr(name) in str(caught.value) and _one_sentence(str(caught.value))
    assert file_server.seen == [] and lookups == []
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_a_umm_name_with_a_path_is_refused(file_server, tmp_path):
    umm = _umm_granule(name="../../PACE_OCI.20250305T160933.L2.OC_AOP.V3_1.nc")
    with pytest.raises(UnsafeFileName, match="plain"):
        download_granules([umm], tmp_path / "cache", session=requests.Session())
    assert not any(tmp_path.rglob("*.nc"))


# --------------------------------------------------------------------------------- concurrent fetches


def test_two_concurrent_fetches_of_one_file_make_one_request_and_agree(file_server, tmp_path, monkeypatch):
    file_server.hold = threading.Event()
    url, dest = f"{file_server.base}/data/sample.nc", tmp_path / "sample.nc"
    second_waits = threading.Event()
    real_wait = access._wait_for_lock
    waits = []

    def observed_wait(handle, *args):
        waits.append(threading.current_thread().name)
        if len(waits) == 2:
            second_waits.set()  # the second fetch reached the lock while the first one holds it
        real_wait(handle, *args)

    monkeypatch.setattr(access, "_wait_for_lock", observed_wait)
    results = {}

    def fetch(label):
        results[label] = _finished_within_hang_guard(lambda: download_url(url, dest, len(PAYLOAD)))

    first = threading.Thread(target=fetch, args=("first",), name="first")
    first.start()
    for _ in range(6000):  # until the first fetch's request is held by the server (a hang guard, not timing)
        if file_server.seen:
            break
        time.sleep(0.01)  # not Event.wait(0.01): a timed wait never returns under faketime
    second = threading.Thread(target=fetch, args=("second",), name="second")
    second.start()
    assert second_waits.wait(30), "the second fetch never reached the lock"
    file_server.hold.set()
    first.join(60)
    second.join(60)
    assert results == {"first": None, "second": None}
    assert len(file_server.seen) == 1, "the second fetch found the finished file"
    assert dest.read_bytes() == PAYLOAD and _parts(tmp_path) == []


def test_each_process_writes_its_own_part(file_server, tmp_path):
    url, dest = f"{file_server.base}/data/sample.nc", tmp_path / "sample.nc"
    error = _cut_first_attempt(file_server, url, dest)
    [part] = [name for name in _parts(tmp_path) if name.endswith(".part")]
    assert part.startswith(f"sample.nc.{access.os.getpid()}-") and part in str(error)


def test_a_fetch_waiting_for_another_one_gives_up_at_its_deadline(file_server, tmp_path):
    fcntl = pytest.importorskip("fcntl")
    url, dest = f"{file_server.base}/data/sample.nc", tmp_path / "sample.nc"
    with open(tmp_path / "sample.nc.lock", "a+b") as other:  # another process's fetch holds the lock
        fcntl.flock(other.fileno(), fcntl.LOCK_EX)
        error = _finished_within_hang_guard(lambda: download_url(url, dest, deadline_s=0.2))
    assert isinstance(error, DownloadTooSlow) and "another fetch of sample.nc held" in str(error)
    assert _one_sentence(str(error)) and file_server.seen == [] and not dest.exists()
    download_url(url, dest)  # once the lock is free the next call proceeds
    assert dest.read_bytes() == PAYLOAD


# --------------------------------------------------------------------------------------------- deadline


def test_a_trickling_server_is_stopped_by_the_overall_deadline(file_server, tmp_path):
    file_server.trickle_pause = 0.01  # one byte every 10 ms: each read succeeds, the transfer never ends
    url, dest = f"{file_server.base}/data/sample.nc", tmp_path / "sample.nc"
    error = _finished_within_hang_guard(lambda: download_url(url, dest, timeout=(5, 5), deadline_s=0.3))
    assert isinstance(error, DownloadTooSlow), error
    assert "did not finish within its 0.3 s deadline" in str(error) and _one_sentence(str(error))
    assert len(file_server.seen) == 1
    [part] = [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
    assert part.stat().st_size < len(PAYLOAD) and not dest.exists()  # bytes so far kept for a resume
    assert part.read_bytes() == PAYLOAD[: part.stat().st_size]


# ------------------------------------------------------------------------------------- the token's hosts


@pytest.fixture
def loopback_is_earthdata(monkeypatch, no_credentials):
    """127.0.0.1 plays an Earthdata host; ``localhost`` (the same server, another host name) does not."""
    monkeypatch.setattr(access, "EARTHDATA_TOKEN_HOSTS", access.EARTHDATA_TOKEN_HOSTS | {"127.0.0.1"})
    monkeypatch.setenv("EARTHDATA_TOKEN", "token-xyz")


def test_download_granules_uses_umm_checksum_and_the_earthdata_token(
    file_server, tmp_path, loopback_is_earthdata
):
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


def test_the_token_is_not_sent_to_a_host_outside_earthdata(file_server, tmp_path, loopback_is_earthdata):
    record = GranuleRecord(name="sample.nc", url=f"http://localhost:{file_server.port}/data/sample.nc")
    download_granules([record], tmp_path, progress=False)
    assert len(file_server.seen) == 1 and "authorization" not in file_server.seen[0]


def test_a_redirect_to_another_host_drops_the_token(file_server, tmp_path, loopback_is_earthdata):
    file_server.files["/tea/sample.nc"] = f"http://localhost:{file_server.port}/data/sample.nc"
    record = GranuleRecord(name="sample.nc", url=f"{file_server.base}/tea/sample.nc", size=len(PAYLOAD))
    [path] = download_granules([record], tmp_path, progress=False)
    assert path.read_bytes() == PAYLOAD
    assert [(r["path"], r.get("authorization")) for r in file_server.seen] == [
        ("/tea/sample.nc", "Bearer token-xyz"),
        ("/data/sample.nc", None),
    ]


def test_only_earthdata_https_hosts_may_carry_the_token():
    allowed = access.may_carry_earthdata_token
    assert allowed("https://obdaac-tea.earthdatacloud.nasa.gov/ob-cumulus-prod-public/x.nc")
    assert allowed("https://urs.earthdata.nasa.gov/oauth/authorize")
    assert allowed("https://cmr.earthdata.nasa.gov/search/granules.umm_json")
    assert not allowed("http://obdaac-tea.earthdatacloud.nasa.gov/x.nc")  # clear text
    assert not allowed("https://ob-cumulus-prod-public.s3.us-west-2.amazonaws.com/x.nc")
    assert not allowed("https://earthdata.nasa.gov.evil.example/x.nc")
    assert not allowed("https://evil-earthdata.nasa.gov.example/x.nc")


def test_a_filled_cache_needs_neither_credentials_nor_network(file_server, tmp_path, no_credentials):
    record = GranuleRecord(name="sample.nc", url=f"{TEA}/x/sample.nc", size=len(PAYLOAD))
    (tmp_path / "sample.nc").write_bytes(PAYLOAD)
    assert download_granules([record], tmp_path) == [tmp_path / "sample.nc"]
    missing = GranuleRecord(name="absent.nc", url=record.url, size=10)
    with pytest.raises(DataAccessError, match="No Earthdata credentials"):
        download_granules([missing], tmp_path)


# ------------------------------------------------------------------------------------- GLERL and gridMET


def test_gridmet_url_follows_the_direct_yearly_pattern(monkeypatch):
    assert gridmet_url("tmmx", 2024) == "https://www.northwestknowledge.net/metdata/data/tmmx_2024.nc"
    assert gridmet_url("pr", 1979) == "https://www.northwestknowledge.net/metdata/data/pr_1979.nc"
    with pytest.raises(ValueError, match="variable"):
        gridmet_url("temperature", 2024)
    with pytest.raises(UnavailableYear, match="1979"):
        gridmet_url("pr", 1978)
    monkeypatch.setattr(access, "_current_year", lambda: 2030)
    assert gridmet_url("pr", 2030).endswith("pr_2030.nc")
    with pytest.raises(UnavailableYear, match="covers 1979 to 2030"):
        gridmet_url("pr", 2031)


def test_gridmet_and_glerl_offline_fail_after_one_attempt_naming_the_host(tmp_path, lookups):
    with pytest.raises(DataAccessError, match=r"Cannot reach www\.northwestknowledge\.net"):
        fetch_gridmet(["pr"], [2024], tmp_path)
    with pytest.raises(DataAccessError, match=r"Cannot reach raw\.githubusercontent\.com"):
        fetch_glerl(tmp_path)
    assert lookups == ["www.northwestknowledge.net", "raw.githubusercontent.com"], "one attempt each"
    assert not any(p.is_file() for p in tmp_path.iterdir())


def test_fetch_glerl_downloads_a_csv_from_any_url(file_server, tmp_path):
    csv = b",station_name,timestamp,lat,lon,particulate_microcystin\n"
    csv += b"0,WE2,2024-07-15 12:05:00,41.76,-83.33,2.4\n"
    file_server.files["/glrl-hab-data.csv"] = csv
    path = fetch_glerl(tmp_path, url=f"{file_server.base}/glrl-hab-data.csv", expected_size=len(csv))
    assert path.name == "glrl-hab-data.csv" and path.read_bytes() == csv


@pytest.mark.parametrize(
    ("year", "name"),
    [
        (2012, "lake_erie_habs_field_sampling_results_2012_2018.csv"),
        (2018, "lake_erie_habs_field_sampling_results_2012_2018.csv"),
        (2019, "lake_erie_habs_field_sampling_results_2019.csv"),
        (2020, "noaa-glerl-erie-habs-field-sampling-results-2020-2021.csv"),
        (2021, "noaa-glerl-erie-habs-field-sampling-results-2020-2021.csv"),
        (2022, "noaa-glerl-erie-habs-field-sampling-results-2022.csv"),
        (2024, "2024_WLE_Weekly_Datashare_CSV.csv"),
        (2025, "2025_WLE_Weekly_Datashare_CSV.csv"),
    ],
)
def test_every_glerl_year_maps_to_its_season_file(year, name):
    assert access.glerl_files_for_year(year) == [name]
    assert access.GLERL_RAW_URLS[name].endswith("/GLERL_GT/data/" + name)


@pytest.mark.parametrize("year", [2011, 2023, 2026])
def test_a_glerl_year_without_data_is_one_sentence(year, lookups):
    with pytest.raises(UnavailableYear) as caught:
        access.glerl_files_for_year(year)
    assert str(year) in str(caught.value) and _one_sentence(str(caught.value)) and lookups == []


def test_fetch_glerl_year_checks_the_datashare_header(file_server, tmp_path, monkeypatch):
    name = "2024_WLE_Weekly_Datashare_CSV.csv"
    file_server.files[f"/glerl/{name}"] = DATASHARE_CSV
    monkeypatch.setitem(access.GLERL_RAW_URLS, name, f"{file_server.base}/glerl/{name}")
    assert [p.read_bytes() for p in fetch_glerl_year(2024, tmp_path)] == [DATASHARE_CSV]


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
