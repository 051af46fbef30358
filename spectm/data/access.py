"""The real-data path: Earthdata login, PACE granule search, and verified, resumable HTTPS downloads.

Everything here talks to the network, so everything here fails the same way: a :class:`DataAccessError`
whose message is one sentence saying what is missing and how to provide it, raised at once. Nothing
prompts for input (a book executed by papermill has no stdin), and every HTTP request carries a
(connect, read) timeout, so a dead server costs seconds, not a hung build. The offline default of the
book is the simulated twin (``source='twin'``); this module is only needed for ``source='real'``.

Downloads are ours rather than ``earthaccess.download``'s so that the cache is trustworthy: a file lands
under its final name only after its size, its checksum (when one is published) and its first bytes (a
netCDF signature, a CSV header: never an HTML error page) have been verified. An interrupted transfer stays
as a ``.part`` of its process and is resumed with ``Range`` and ``If-Range``, so a file that changed on
the server in between is fetched again whole rather than spliced. A lock file serialises concurrent
fetches of one file; every transfer has an overall deadline besides its per-read timeout; file names from
search results must be plain names; the Earthdata token is sent to Earthdata hosts only. Errors tell
"cannot reach" (:class:`DataAccessError`) from "cut short" (:class:`DownloadCutShort`) from "not the
file" (:class:`NotTheExpectedFile`).
"""

from __future__ import annotations

import datetime
import glob
import hashlib
import json
import logging
import math
import os
import re
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from spectm.atomic import atomic_write_text

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; the per-process .part still keeps transfers apart
    fcntl = None

logger = logging.getLogger(__name__)

#: Earthdata Login host: credentials in ``~/.netrc`` must be filed under this machine name.
EARTHDATA_HOST = "urs.earthdata.nasa.gov"
#: NASA's Common Metadata Repository, where granule searches go.
CMR_HOST = "cmr.earthdata.nasa.gov"
#: Seconds to wait for a connection and for each read. A read timeout bounds the silence between two
#: packets, not the whole transfer, so large files still download on slow links.
DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 30.0)
#: Downloads larger than this show a tqdm progress bar (when ``progress`` is left at ``None``).
PROGRESS_MIN_BYTES = 8 * 2**20
_CHUNK_BYTES = 2**20
_OFFLINE_HINT = "the offline default is source='twin'"

#: gridMET yearly files, direct HTTPS (Climatology Lab, *gridMET*, climatologylab.org/gridmet.html):
#: ``<short>_<year>.nc``.
GRIDMET_BASE_URL = "https://www.northwestknowledge.net/metdata/data"
#: The 16 daily gridMET variables by file prefix (Climatology Lab, *gridMET*; ``book/sources.md``).
GRIDMET_VARIABLES = (
    "pr", "rmax", "rmin", "sph", "srad", "th", "tmmn", "tmmx",
    "vs", "bi", "fm100", "fm1000", "erc", "etr", "pet", "vpd",
)  # fmt: skip
#: gridMET starts on 1979-01-01.
GRIDMET_FIRST_YEAR = 1979

#: The HAB-F compiled GLERL file (surface and scum samples 2012-2025, 8 columns), pinned to the commit
#: that built it (``book/sources.md``), with its published size in bytes.
GLERL_COMPILED_URL = (
    "https://raw.githubusercontent.com/jbcox-noaa/HAB-F/10923ee995b1ab2ca1f4d56eda63457cd4dc1538/"
    "microcystin_detection/glrl-hab-data.csv"
)
GLERL_COMPILED_SIZE = 108_218
# The raw GLERL season files. NCEI's archive (Boegehold et al. 2023, ESSD 15:3853) gives a DOI,
# 10.25921/11da-3x54, but no direct download URL, so the files come from public copies
# (j-b-cox/HAB-F-Capstone, GLERL_GT/data/, pinned to commit e824978, where its clean-up notebook reads
# them). Unconfirmed (``book/sources.md``): whether these copies are byte-identical to the current NCEI
# files, and how far NCEI's archive now reaches beyond 2021; the 2024 and 2025 weekly datashare files are
# provisional, and the 2025 copy is an early-season snapshot (2 dates). No public file holds 2023.
_GLERL_RAW_BASE = (
    "https://raw.githubusercontent.com/j-b-cox/HAB-F-Capstone/e824978db242565319e222c47809d83d0c2c84ed/"
    "GLERL_GT/data/"
)
#: Season file -> (years it holds, a column its header must contain; glerl.md sections 3-5).
GLERL_SEASON_FILES: dict[str, tuple[range, str]] = {
    "lake_erie_habs_field_sampling_results_2012_2018.csv": (range(2012, 2019), "Particulate Microcystin ("),
    "lake_erie_habs_field_sampling_results_2019.csv": (range(2019, 2020), "Particulate Microcystin ("),
    "noaa-glerl-erie-habs-field-sampling-results-2020-2021.csv": (
        range(2020, 2022), "particulate_microcystin"
    ),
    "noaa-glerl-erie-habs-field-sampling-results-2022.csv": (range(2022, 2023), "particulate_microcystin"),
    "2024_WLE_Weekly_Datashare_CSV.csv": (range(2024, 2025), "Particulate_Microcystin_ugL-1"),
    "2025_WLE_Weekly_Datashare_CSV.csv": (range(2025, 2026), "Particulate_Microcystin_ugL-1"),
}
#: The transect files (2021, 2022) use ``sample_id`` instead of ``station_name``; they are downloadable
#: by name but not fetched per year.
_GLERL_TRANSECT_FILES = {
    "noaa-glerl-erie-habs-field-sampling-transects-results-2021.csv": "sample_id",
    "noaa-glerl-erie-habs-field-sampling-transects-results-2022.csv": "sample_id",
}
#: File name -> a column its header must hold (checked before a download takes its final name).
GLERL_HEADER_COLUMNS: dict[str, str] = {
    **{name: column for name, (_years, column) in GLERL_SEASON_FILES.items()},
    **_GLERL_TRANSECT_FILES,
    "glrl-hab-data.csv": "particulate_microcystin",
}
#: Public copies of the raw GLERL CSVs, by file name.
GLERL_RAW_URLS: dict[str, str] = {
    name: _GLERL_RAW_BASE + name for name in (*GLERL_SEASON_FILES, *_GLERL_TRANSECT_FILES)
}

# UMM-G checksum algorithm names -> hashlib names; others (Adler-32, Fletcher, POSIX, ...) are not checked.
_HASHLIB_NAMES = {
    "MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512",
}  # fmt: skip


class DataAccessError(RuntimeError):
    """Real data cannot be reached; the message says what is missing and how to provide it."""


# --------------------------------------------------------------------------------------------- messages


def _missing_credentials_message() -> str:
    return (
        "No Earthdata credentials: set EARTHDATA_USERNAME and EARTHDATA_PASSWORD (or EARTHDATA_TOKEN), "
        f"or add {EARTHDATA_HOST} to ~/.netrc (or the file named by NETRC); see https://{EARTHDATA_HOST}."
    )


def _short_reason(error: BaseException) -> str:
    """The innermost cause of a requests/urllib3 error, one line, without the retry boilerplate."""
    reason: BaseException = error
    for _ in range(6):
        inner = getattr(reason, "reason", None)
        if not isinstance(inner, BaseException):
            args = getattr(reason, "args", ())
            inner = args[0] if args and isinstance(args[0], BaseException) else None
        if inner is None:
            break
        reason = inner
    first_line = str(reason).split("\n")[0]
    text = re.sub(r"^(<[^>]*>|\w+\([^)]*\)):\s*", "", first_line).strip() or type(reason).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _unreachable(host: str, error: BaseException, timeout: Any = None) -> DataAccessError:
    if isinstance(error, requests.exceptions.Timeout) or "timed out" in str(error).lower():
        what = "no answer " + (_describe_timeout(timeout) if timeout is not None else "before the timeout")
    else:
        what = f"network unavailable: {_short_reason(error)}"
    return DataAccessError(f"Cannot reach {host} ({what}); {_OFFLINE_HINT}.")


def _describe_timeout(timeout: Any) -> str:
    if isinstance(timeout, (tuple, list)) and len(timeout) == 2:
        return f"within the {timeout[0]:g} s connect / {timeout[1]:g} s read timeout"
    return f"within the {timeout:g} s timeout"


def _host(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc or url


# ------------------------------------------------------------------------------------------------ login


def earthdata_login(strategy: str | None = None):
    """Log in to NASA Earthdata without ever prompting; return the authenticated ``earthaccess.Auth``.

    ``strategy=None`` tries the environment (``EARTHDATA_TOKEN``, or ``EARTHDATA_USERNAME`` and
    ``EARTHDATA_PASSWORD``), then ``~/.netrc``; ``"environment"`` or ``"netrc"`` tries only that one.
    earthaccess's own default would fall through to ``input()``, which blocks or dies inside a notebook
    run, so the interactive strategy is refused here. The global ``earthaccess.__auth__`` is the object
    that gets authenticated, so ``earthaccess.search_data`` benefits too. (``earthaccess.login`` would
    also build its download store, which issues requests without a timeout; we download ourselves.)
    """
    import earthaccess

    strategies = ("environment", "netrc") if strategy is None else (strategy,)
    if any(s not in ("environment", "netrc") for s in strategies):
        raise ValueError(
            f"earthdata_login: strategy must be None, 'environment' or 'netrc', got {strategy!r}"
        )

    unavailable = _login_unavailable_errors()
    rejected = getattr(getattr(earthaccess, "exceptions", None), "LoginAttemptFailure", None)
    rejected = (rejected,) if rejected is not None else ()
    auth = earthaccess.__auth__
    last_skip: BaseException | None = None
    for name in strategies:
        try:
            auth.login(strategy=name)
        except unavailable as skip:  # this source holds no credentials; try the next one
            logger.debug("Earthdata login strategy %r unavailable: %s", name, skip)
            last_skip = skip
            continue
        except rejected as error:
            raise DataAccessError(
                f"Earthdata Login rejected the credentials of the {name} strategy: correct them "
                f"(and accept the OB.DAAC EULA) at https://{EARTHDATA_HOST}."
            ) from error
        except Exception as error:  # the token request could not be sent: network down or blocked
            raise _unreachable(EARTHDATA_HOST, error) from error
        if auth.authenticated:
            return auth
    raise DataAccessError(_missing_credentials_message()) from last_skip


def _login_unavailable_errors() -> tuple[type[BaseException], ...]:
    """Exceptions meaning "this strategy has no credentials" (earthaccess 0.12 raised FileNotFoundError)."""
    try:
        from earthaccess.exceptions import LoginStrategyUnavailable
    except ImportError:
        return (FileNotFoundError,)
    return (LoginStrategyUnavailable, FileNotFoundError)


def earthdata_session(strategy: str | None = None, timeout: tuple[float, float] = DEFAULT_TIMEOUT):
    """A ``requests`` session with a default timeout on every request that sends the Earthdata bearer token to
    Earthdata hosts only (:func:`confine_credentials`)."""
    return confine_credentials(with_default_timeout(earthdata_login(strategy).get_session(), timeout))


def with_default_timeout(session: requests.Session, timeout: tuple[float, float] = DEFAULT_TIMEOUT):
    """Make every request of ``session`` carry ``timeout`` unless the caller gives one.

    earthaccess and python-cmr call ``session.get`` without a timeout; wrapping the session's ``request``
    method is the one place that reaches all of those calls.
    """
    if getattr(session, "_spectm_timeout", None) is not None:
        session._spectm_timeout = timeout
        return session
    plain_request = session.request

    def request(method, url, **kwargs):
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = session._spectm_timeout
        return plain_request(method, url, **kwargs)

    session._spectm_timeout = timeout
    session.request = request
    return session


# ----------------------------------------------------------------------------------------------- search


@dataclass(frozen=True)
class GranuleRecord:
    """What the downloader needs to know about one granule file, read from its CMR UMM-G record."""

    name: str
    url: str
    size: int | None = None  # bytes, only when CMR gives an exact byte count
    checksum: str | None = None
    checksum_algorithm: str | None = None  # UMM-G name, e.g. "MD5", "SHA-256"
    time_start: str | None = None
    cloud_cover: float | None = None


def granule_record(granule: Mapping[str, Any]) -> GranuleRecord:
    """Read file name, HTTPS URL, exact size and checksum from a UMM-G granule (an earthaccess DataGranule
    or the plain dict CMR returns, with the record under ``"umm"``)."""
    umm = granule.get("umm", granule)
    archive = (umm.get("DataGranule") or {}).get("ArchiveAndDistributionInformation") or []
    https_urls = [
        link["URL"]
        for link in umm.get("RelatedUrls") or []
        if link.get("Type") == "GET DATA" and str(link.get("URL", "")).startswith("https://")
    ]
    names = [entry.get("Name") for entry in archive if entry.get("Name")]
    name = names[0] if names else (https_urls[0].rsplit("/", 1)[-1] if https_urls else None)
    if not name or not https_urls:
        granule_id = umm.get("GranuleUR", "<no GranuleUR>")
        raise ValueError(
            f"granule {granule_id}: UMM-G needs a DataGranule.ArchiveAndDistributionInformation Name and a "
            f"RelatedUrls entry of Type 'GET DATA' with an https URL"
        )
    url = next((u for u in https_urls if u.rsplit("/", 1)[-1] == name), https_urls[0])
    entry = next((e for e in archive if e.get("Name") == name), archive[0] if archive else {})
    checksum = entry.get("Checksum") or {}
    time_range = (umm.get("TemporalExtent") or {}).get("RangeDateTime") or {}
    cloud = umm.get("CloudCover")
    return GranuleRecord(
        name=name,
        url=url,
        size=_exact_size(entry),
        checksum=checksum.get("Value"),
        checksum_algorithm=checksum.get("Algorithm"),
        time_start=time_range.get("BeginningDateTime"),
        cloud_cover=None if cloud is None else float(cloud),
    )


def _exact_size(entry: Mapping[str, Any]) -> int | None:
    """Bytes from ``SizeInBytes``; ``Size`` in MB is rounded and cannot verify a download, so is ignored."""
    if entry.get("SizeInBytes") is not None:
        return int(entry["SizeInBytes"])
    if entry.get("Size") is not None and entry.get("SizeUnit") == "B":
        return int(entry["Size"])
    return None


#: PACE launched on 2024-02-08; OCI science granules start in 2024.
PACE_FIRST_YEAR = 2024


def pace_season(year: int) -> tuple[str, str]:
    """The (start, end) dates of the Lake Erie bloom season searched for ``year`` (May to October);
    :class:`UnavailableYear` before the PACE mission or after the current year."""
    last = _current_year()
    if not isinstance(year, int) or not PACE_FIRST_YEAR <= year <= last:
        raise UnavailableYear(
            f"PACE OCI has no granules for {year!r}: the mission's data start in {PACE_FIRST_YEAR} "
            f"(launch 2024-02-08) and run to {last} (the current year)."
        )
    return f"{year}-05-01", f"{year}-10-31"


def search_pace_granules(
    start: str,
    end: str,
    bbox: tuple[float, float, float, float],
    short_name: str | Sequence[str] = "PACE_OCI_L2_AOP",
    version: str = "3.2",
    cloud_cover: tuple[float, float] | None = (0, 50),
    count: int = 2000,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
) -> list[GranuleRecord]:
    """Search CMR for PACE OCI granules in ``[start, end]`` meeting ``bbox`` = (west, south, east, north).

    Versions coexist during reprocessing, so ``version`` is always sent. No login is needed for the
    public OB.DAAC collections; when :func:`earthdata_login` has run, the search is authenticated. This
    is ``earthaccess.search_data`` with a timeout on every CMR request; ``count < 1`` returns all hits.
    """
    from earthaccess.search import DataGranules

    import earthaccess

    if len(bbox) != 4:
        raise ValueError(f"bbox must be (west, south, east, north), got {bbox!r}")
    auth = earthaccess.__auth__
    query = DataGranules(auth if auth.authenticated else None).parameters(  # builds the URL; no request yet
        short_name=short_name,
        version=version,
        temporal=(start, end),
        bounding_box=tuple(float(v) for v in bbox),
        **({} if cloud_cover is None else {"cloud_cover": tuple(cloud_cover)}),
    )
    with_default_timeout(query.session, timeout)
    try:
        granules = query.get(count) if count > 0 else query.get_all()
    except RuntimeError as error:
        if isinstance(error.__cause__, requests.exceptions.HTTPError):
            raise DataAccessError(
                f"CMR at {CMR_HOST} refused the search for {short_name} v{version} "
                f"({_short_reason(error)}); check the short name, version, dates and bounding box."
            ) from error
        raise _unreachable(CMR_HOST, error, timeout) from error
    except Exception as error:  # requests errors, OSError, or whatever a blocked socket raises
        raise _unreachable(CMR_HOST, error, timeout) from error
    return [granule_record(g) for g in granules]


# ---------------------------------------------------------------------------------------- file contents
#
# A server that answers 200 with a login page, an error page or a stub would otherwise leave that body in
# the cache under a data file's name, "verified" against its own Content-Length and never fetched again.
# Each check reads the first bytes of the finished transfer and returns what is wrong, or None.

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_NETCDF3_SIGNATURES = (b"CDF\x01", b"CDF\x02", b"CDF\x05")  # classic, 64-bit offset, CDF-5
_HEAD_BYTES = 4096
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<?xml")


def _looks_like_html(head: bytes) -> bool:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return start.startswith(_HTML_STARTS) or b"<html" in start[:1024]


def _body_problem(head: bytes, size: int, what: str) -> str | None:
    """The problems every check shares: an empty body or an HTML page where a data file was expected."""
    if size == 0:
        return f"the server sent an empty body instead of {what}"
    if _looks_like_html(head):
        return f"the server sent an HTML page (a login or error page?) instead of {what}"
    return None


def _hdf5_end_of_file(head: bytes) -> int | None:
    """The end-of-file address an HDF5 superblock (version 0-3, at offset 0) records, when it is readable."""
    version = head[8] if len(head) > 8 else None
    if version in (0, 1):
        offsets = head[13] if len(head) > 13 else 0
        start = 24 + (4 if version == 1 else 0) + 2 * offsets  # base and free-space addresses come first
    elif version in (2, 3):
        offsets = head[9] if len(head) > 9 else 0
        start = 12 + 2 * offsets  # base and superblock-extension addresses come first
    else:
        return None
    if offsets not in (2, 4, 8) or len(head) < start + offsets:
        return None
    value = int.from_bytes(head[start : start + offsets], "little")
    return None if value == 2 ** (8 * offsets) - 1 else value  # all ones: "undefined address"


def netcdf4_content(head: bytes, size: int) -> str | None:
    """A netCDF-4 file is an HDF5 file: its signature first, and at least as long as its superblock says."""
    what = "a netCDF-4 (HDF5) file"
    problem = _body_problem(head, size, what)
    if problem is not None:
        return problem
    if not head.startswith(_HDF5_SIGNATURE):
        return f"the server sent {size} bytes that do not start with the HDF5 signature of {what}"
    end = _hdf5_end_of_file(head)
    if end is not None and size < end:
        return f"the file was cut short: its HDF5 superblock says {end} bytes, {size} arrived"
    return None


#: Bytes per value of each netCDF-3 external type (NC_BYTE .. NC_UINT64; 7-11 only in CDF-5).
_NC3_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 4, 6: 8, 7: 1, 8: 2, 9: 4, 10: 8, 11: 8}


class _Header:
    """A cursor over a netCDF-3 header (big-endian; counts are 8 bytes in CDF-5, offsets in CDF-2 and -5)."""

    def __init__(self, head: bytes):
        self.head, self.at, version = head, 4, head[3]
        self.count_size = 8 if version == 5 else 4
        self.offset_size = 4 if version == 1 else 8

    def number(self, size: int) -> int:
        if self.at + size > len(self.head):
            raise IndexError("the header runs past the bytes read")
        self.at += size
        return int.from_bytes(self.head[self.at - size : self.at], "big")

    def skip(self, count: int, width: int = 1) -> None:
        self.at += -(-count * width // 4) * 4  # values are padded to 4 bytes

    def skip_name(self) -> None:
        self.skip(self.number(self.count_size))

    def skip_attributes(self) -> None:
        self.number(4)  # NC_ATTRIBUTE tag, or ABSENT
        for _ in range(self.number(self.count_size)):
            self.skip_name()
            width = _NC3_TYPE_SIZES[self.number(4)]
            self.skip(self.number(self.count_size), width)


def _netcdf3_variables(header: _Header) -> list[tuple[list[int], int, int]]:
    """(dimension ids, bytes per value, begin) of each variable; the cursor stands after the dimensions."""
    header.skip_attributes()  # the global attributes
    header.number(4)
    variables = []
    for _ in range(header.number(header.count_size)):
        header.skip_name()
        dims = [header.number(header.count_size) for _ in range(header.number(header.count_size))]
        header.skip_attributes()
        size = _NC3_TYPE_SIZES[header.number(4)]
        header.number(header.count_size)  # vsize: may overflow for big variables, so it is recomputed
        variables.append((dims, size, header.number(header.offset_size)))
    return variables


def _netcdf3_layout(head: bytes) -> tuple[int, list[int], list[tuple[list[int], int, int]]]:
    """(number of records, dimension lengths, variables) of a netCDF-3 header; IndexError when cut."""
    header = _Header(head)
    records = header.number(header.count_size)
    header.number(4)  # NC_DIMENSION tag, or ABSENT
    lengths = []
    for _ in range(header.number(header.count_size)):
        header.skip_name()
        lengths.append(header.number(header.count_size))
    streaming = records == 2 ** (8 * header.count_size) - 1
    return (0 if streaming else records), lengths, _netcdf3_variables(header)


def _netcdf3_problem(head: bytes, size: int) -> str | None:
    """Whether a netCDF-3 file of ``size`` bytes holds all its header promises (``head``: its first bytes).

    Unknown when the header is longer than ``head`` or not understood: then nothing is said.
    """
    try:
        records, lengths, variables = _netcdf3_layout(head)
    except IndexError:
        return f"the file ends inside its netCDF-3 header, at byte {size}" if len(head) >= size else None
    except KeyError:  # a type code netCDF-3 does not have
        return None
    if any(d >= len(lengths) for dims, _, _ in variables for d in dims):
        return None
    shaped = [(bool(dims) and lengths[dims[0]] == 0, dims, width, begin) for dims, width, begin in variables]
    one = {begin: width * math.prod(lengths[d] for d in (dims[1:] if record else dims))
           for record, dims, width, begin in shaped}  # bytes of one record, or of the whole variable
    in_records = [begin for record, _, _, begin in shaped if record]
    record_size = one[in_records[0]] if len(in_records) == 1 else sum(-(-one[b] // 4) * 4 for b in in_records)
    end = max((begin + one[begin] + (record_size * (records - 1) if begin in in_records else 0)
               for begin in one if begin not in in_records or records > 0), default=0)
    return f"the file was cut short: its netCDF-3 header places data up to byte {end}, {size} arrived" if size < end else None


def netcdf_content(head: bytes, size: int) -> str | None:
    """netCDF-4 (HDF5), or the classic netCDF-3 formats that older gridMET copies may use."""
    if head.startswith(_NETCDF3_SIGNATURES):
        return _netcdf3_problem(head, size)
    problem = netcdf4_content(head, size)
    if problem is not None and "HDF5 signature" in problem:
        return f"the server sent {size} bytes that start with neither the HDF5 nor the netCDF-3 signature"
    return problem


def csv_content(required_column: str | None = None, what: str = "a CSV file"):
    """A check for a CSV whose header row holds ``required_column`` (any text file when None)."""

    def check(head: bytes, size: int) -> str | None:
        problem = _body_problem(head, size, what)
        if problem is not None:
            return problem
        if b"\x00" in head:
            return f"the server sent binary data instead of {what}"
        first, *rest = re.split(rb"\r\n|\r|\n", head, maxsplit=1)
        header = first.decode("latin-1").lstrip("\ufeff\xef\xbb\xbf")
        if required_column is not None and required_column not in header:
            return f"the first line has no {required_column!r} column, so it is not {what}"
        if required_column is not None and size <= len(head) and not b"".join(rest).strip():
            return f"the file holds only its header line, no samples, so it is not {what}"  # a cut or stub
        return None

    return check


def _default_content_check(dest: Path):
    return {".nc": netcdf_content, ".csv": csv_content()}.get(dest.suffix.lower())


# ------------------------------------------------------------------------------------------ credentials

#: Hosts that may receive the Earthdata bearer token: Earthdata Login, CMR and the OB.DAAC TEA endpoint
#: (NASA OB.DAAC, *PACE OCI data access*; ``book/sources.md``). Anything else, e.g. the S3 host TEA
#: redirects to, gets none.
EARTHDATA_TOKEN_HOSTS = frozenset({EARTHDATA_HOST, CMR_HOST, "obdaac-tea.earthdatacloud.nasa.gov"})
EARTHDATA_TOKEN_DOMAINS = (".earthdata.nasa.gov",)


def may_carry_earthdata_token(url: str) -> bool:
    """True for https URLs on Earthdata hosts (plain http only to a loopback address, which never leaves
    the machine)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    trusted = host in EARTHDATA_TOKEN_HOSTS or host.endswith(EARTHDATA_TOKEN_DOMAINS)
    return trusted and (parts.scheme == "https" or host in ("127.0.0.1", "::1", "localhost"))


def confine_credentials(session: requests.Session) -> requests.Session:
    """Send the session's bearer token to Earthdata hosts only, on the first request and after redirects.

    earthaccess puts the token into ``session.headers``, which requests adds to every request, whatever
    its host; requests strips it on a cross-host redirect but not on the first hop. The token is moved off
    the session and added per request (and per redirect hop) when :func:`may_carry_earthdata_token` agrees.
    """
    if hasattr(session, "_spectm_token"):
        return session
    session._spectm_token = session.headers.pop("Authorization", None)
    plain_request, plain_rebuild_auth = session.request, session.rebuild_auth

    def request(method, url, headers=None, **kwargs):
        headers = dict(headers or {})
        if session._spectm_token and may_carry_earthdata_token(url):
            headers.setdefault("Authorization", session._spectm_token)
        return plain_request(method, url, headers=headers, **kwargs)

    def rebuild_auth(prepared, response):
        plain_rebuild_auth(prepared, response)
        token = session._spectm_token
        if token and may_carry_earthdata_token(prepared.url):
            prepared.headers["Authorization"] = token
        elif token and prepared.headers.get("Authorization") == token:
            del prepared.headers["Authorization"]

    session.request, session.rebuild_auth = request, rebuild_auth
    return session


# --------------------------------------------------------------------------------------------- download


class DownloadCutShort(DataAccessError):
    """The server was reached but the body stopped early; the partial file is kept for the next call."""


class DownloadTooSlow(DownloadCutShort):
    """The transfer outlived its overall deadline (a trickling server); the partial file is kept."""


class NotTheExpectedFile(DataAccessError):
    """The body arrived but is not the file asked for (HTML page, wrong signature, size or checksum)."""


class UnsafeFileName(DataAccessError):
    """A file name from a search result or URL that would write outside the download folder."""


class UnavailableYear(DataAccessError, ValueError):
    """The source publishes no data for the year asked for."""


#: Overall limit on one transfer in seconds, besides the per-read timeout: a server that trickles a byte
#: per second never trips a read timeout.
DEFAULT_DEADLINE_S = 1800.0


def plain_file_name(name: str, origin: str) -> str:
    """``name`` when it is a plain file name; otherwise :class:`UnsafeFileName` (one sentence)."""
    unsafe = (
        not name
        or name.startswith(".")
        or any(sep in name for sep in ("/", "\\", os.sep, "\x00"))
        or name in (".", "..")
    )
    if unsafe:
        raise UnsafeFileName(
            f"Refusing the file name {name!r} from {origin}: only plain names (no '/', '\\', '..', leading "
            f"'.' or empty name) are written, so nothing lands outside the download folder."
        )
    return name


@dataclass(frozen=True)
class _Expectation:
    """What a finished download must be before it may take its final name."""

    size: int | None
    digest: tuple[str, str] | None
    content: Any  # (head bytes, size) -> problem or None


def download_url(
    url: str,
    dest: str | os.PathLike,
    expected_size: int | None = None,
    sha256: str | None = None,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    session: requests.Session | None = None,
    *,
    checksum: tuple[str, str] | None = None,
    progress: bool | None = None,
    content=None,
    deadline_s: float = DEFAULT_DEADLINE_S,
) -> Path:
    """Download ``url`` to ``dest``: verified, resumable, atomic, safe to run twice at once; return ``dest``.

    A ``dest`` that already passes verification is kept without any request. Otherwise a lock on
    ``<dest>.lock`` makes concurrent fetches of one file wait for each other (the second finds the
    finished file), bytes go to a ``.part`` of this process, and an interrupted transfer is resumed with
    ``Range`` plus ``If-Range`` (the ETag or Last-Modified remembered beside the ``.part``), so a file that
    changed on the server restarts from zero instead of being spliced. The file is renamed to ``dest`` only
    after size (``expected_size``, else the announced length), digest (``sha256``, or ``checksum`` =
    (UMM-G algorithm, hex)) and ``content`` (default by suffix: netCDF signature for ``.nc``, a text CSV
    for ``.csv``; see :func:`netcdf4_content`, :func:`csv_content`) match. ``deadline_s`` bounds the whole
    transfer; ``timeout`` bounds the connection and each read.
    """
    dest = Path(dest)
    content = content or _default_content_check(dest)
    expect = _Expectation(expected_size, _digest_spec(sha256, checksum), content)
    if _cached_and_verified(dest, expect):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    deadline = _Deadline(deadline_s)
    with _exclusive(dest, url, deadline):
        if _cached_and_verified(dest, expect):  # another fetch finished it while this one waited
            return dest
        part = _own_part(dest, url)
        session = confine_credentials(with_default_timeout(session or requests.Session(), timeout))
        announced = _transfer(url, part, session, timeout, expected_size, progress, deadline)
        _finish(url, part, dest, expect, announced)
    return dest


def _cached_and_verified(dest: Path, expect: _Expectation) -> bool:
    if not dest.exists():
        return False
    problem = _verification_problem(dest, expect)
    if problem is None:
        logger.debug("%s already present and verified", dest)
        return True
    logger.warning("%s is in the cache but %s; downloading it again", dest, problem)
    dest.unlink(missing_ok=True)
    return False


@contextmanager
def _exclusive(dest: Path, url: str, deadline: _Deadline):
    """Hold an exclusive ``flock`` on ``<dest>.lock`` (a no-op where fcntl is missing, e.g. Windows).

    The lock file is removed when the holder is done, so no ``.lock`` is left beside the data. That is
    safe because a waiter that wins the lock checks that the path still names the file it locked, and
    starts over if the holder removed it in the meantime.
    """
    path = dest.with_name(dest.name + ".lock")
    if fcntl is None:
        yield
        return
    while True:
        handle = open(path, "a+b")
        try:
            _wait_for_lock(handle, url, deadline)
            if _names_same_file(path, handle):
                break
        except BaseException:
            handle.close()
            raise
        handle.close()  # the previous holder removed the file we waited on: lock the new one
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()


def _names_same_file(path: Path, handle) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
    except FileNotFoundError:
        return False


_LOCK_POLL_S = 0.05


def _wait_for_lock(handle, url: str, deadline: _Deadline) -> None:
    """Wait for the lock while another fetch of the same file runs, but not past this call's deadline."""
    while True:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if deadline.passed():
                raise DownloadTooSlow(
                    f"Download of {url} did not start within its {deadline.seconds:g} s deadline: another "
                    f"fetch of {Path(handle.name).stem} held {Path(handle.name).name} the whole time."
                ) from None
            time.sleep(_LOCK_POLL_S)


class _Deadline:
    """The overall time limit of one transfer, measured on the monotonic clock."""

    def __init__(self, seconds: float):
        self.seconds = float(seconds)
        self.ends = time.monotonic() + self.seconds

    def passed(self) -> bool:
        return time.monotonic() > self.ends


# ------------------------------------------------------------------------------------- partial files


def _sidecar(part: Path) -> Path:
    return part.with_name(part.name + ".json")


def _own_part(dest: Path, url: str) -> Path:
    """This process's ``.part`` for ``dest``, taking over the bytes an earlier, finished attempt left.

    Runs under the lock, so no other fetch is writing any ``.part`` of ``dest``: the leftover with the most
    bytes and a usable sidecar (same URL, a validator) is renamed to ours; all other leftovers are removed.
    """
    own = dest.with_name(f"{dest.name}.{os.getpid()}-{secrets.token_hex(4)}.part")
    leftovers = sorted(
        dest.parent.glob(glob.escape(dest.name) + ".*part"), key=lambda p: p.stat().st_size, reverse=True
    )
    adopted = False
    for leftover in leftovers:
        state = _read_state(leftover)
        if not adopted and state.get("url") == url and _validator(state):
            os.replace(_sidecar(leftover), _sidecar(own))
            os.replace(leftover, own)
            adopted = True
        else:
            _discard(leftover)
    return own


def _read_state(part: Path) -> dict:
    try:
        state = json.loads(_sidecar(part).read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _write_state(part: Path, url: str, response: requests.Response) -> None:
    headers = response.headers
    state = {"url": url, "etag": headers.get("ETag"), "last_modified": headers.get("Last-Modified")}
    atomic_write_text(_sidecar(part), json.dumps(state))


def _validator(state: Mapping[str, Any]) -> str | None:
    """What ``If-Range`` may carry: a strong ETag, else the Last-Modified date (a weak ETag may not)."""
    etag = state.get("etag")
    if etag and not str(etag).startswith("W/"):
        return str(etag)
    return state.get("last_modified") or None


def _discard(part: Path) -> None:
    part.unlink(missing_ok=True)
    _sidecar(part).unlink(missing_ok=True)


# ------------------------------------------------------------------------------------------- transfer


def _transfer(
    url, part: Path, session, timeout, expected_size, progress, deadline, retried=False
) -> int | None:
    """Append the missing bytes of ``url`` to ``part``; return the total size the server announced."""
    offset = part.stat().st_size if part.exists() else 0
    validator = _validator(_read_state(part)) if offset else None
    if offset and (validator is None or (expected_size is not None and offset > expected_size)):
        _discard(part)  # without a validator a resumed range could belong to another version: restart
        offset = 0
    if expected_size is not None and offset == expected_size:
        return expected_size  # every byte arrived before the last run stopped; verification decides
    headers = {"Range": f"bytes={offset}-", "If-Range": validator} if offset else {}
    response = _open(url, session, headers, timeout)
    with response:
        if offset and not _resumes_at(response, offset, validator):
            if response.status_code == 416 and _range_total(response) == offset:
                return offset  # the .part already holds the whole file
            if response.status_code in (206, 416) and not retried:
                response.close()
                _discard(part)
                return _transfer(url, part, session, timeout, expected_size, progress, deadline, True)
        _raise_for_status(url, response)
        if response.status_code == 206 and not offset and _content_range_start(response) != 0:
            raise NotTheExpectedFile(f"{_host(url)} sent a range of {url} that was not asked for.")
        resumed = response.status_code == 206
        if not resumed:
            _write_state(part, url, response)  # before any byte, so an interruption can be resumed
        start = offset if resumed else 0
        total = _announced_total(response, start)
        with open(part, "ab" if resumed else "wb") as sink:
            _copy_body(url, response, sink, total, start, part.name, progress, deadline, timeout)
            sink.flush()
            os.fsync(sink.fileno())
        return total


def _open(url: str, session, headers, timeout) -> requests.Response:
    try:
        return session.get(url, headers=headers, stream=True, timeout=timeout)
    except Exception as error:  # requests/urllib3 errors, OSError, or a blocked socket
        raise _unreachable(_host(url), error, timeout) from error


def _resumes_at(response: requests.Response, offset: int, validator: str | None) -> bool:
    """A 206 that continues our bytes: the range we asked for, of the version we hold."""
    if response.status_code != 206 or _content_range_start(response) != offset:
        return False
    etag = response.headers.get("ETag")
    return not (etag and validator and validator.startswith('"') and etag != validator)


def _raise_for_status(url: str, response: requests.Response) -> None:
    status = response.status_code
    if status in (401, 403):
        raise DataAccessError(
            f"{_host(url)} refused {url} (HTTP {status}): log in with earthdata_login() using "
            f"EARTHDATA_TOKEN or ~/.netrc, and accept the data EULA at https://{EARTHDATA_HOST}."
        )
    if status >= 400:
        raise DataAccessError(f"{_host(url)} answered HTTP {status} for {url}; check the URL or try later.")


def _content_range_start(response: requests.Response) -> int | None:
    value = response.headers.get("Content-Range", "")  # "bytes 100-999/1000"
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def _range_total(response: requests.Response) -> int | None:
    total = response.headers.get("Content-Range", "").rsplit("/", 1)[-1]
    return int(total) if total.isdigit() else None


def _announced_total(response: requests.Response, start: int) -> int | None:
    if response.status_code == 206:
        return _range_total(response)
    length = response.headers.get("Content-Length")
    encoded = response.headers.get("Content-Encoding", "identity") != "identity"
    return int(length) + start if length and length.isdigit() and not encoded else None


def _copy_body(url, response, sink, total, start, label, progress, deadline, timeout) -> None:
    """Write the body to ``sink`` in the pieces the socket delivers, checking the deadline after each."""
    show = progress if progress is not None else (total or 0) - start >= PROGRESS_MIN_BYTES
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024, desc=label)
    written = start
    read_some = getattr(response.raw, "read1", None) or response.raw.read
    try:
        while True:
            if deadline.passed():
                raise DownloadTooSlow(
                    f"Download of {url} did not finish within its {deadline.seconds:g} s deadline "
                    f"({_bytes_of(written, total)} arrived); call again to resume from {label}."
                )
            try:
                chunk = read_some(_CHUNK_BYTES, decode_content=True)
            except Exception as error:  # the connection dropped or went silent mid-body
                raise _cut_short(url, written, total, label, error, timeout) from error
            if not chunk:
                break
            _write(sink, chunk)
            written += len(chunk)
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()


def _write(sink, chunk: bytes) -> None:
    try:
        sink.write(chunk)
    except OSError as error:
        raise DataAccessError(
            f"Cannot write {sink.name} ({error.strerror or error}); free disk space or choose another "
            f"cache_dir."
        ) from error


def _bytes_of(written: int, total: int | None) -> str:
    return f"{written} of {total} bytes" if total is not None else f"{written} bytes"


def _cut_short(url, written, total, label, error, timeout) -> DownloadCutShort:
    text = str(error).lower()
    if isinstance(error, requests.exceptions.Timeout) or "timed out" in text or "timeout" in text:
        reason = "no data " + _describe_timeout(timeout)
    else:  # urllib3 words this as a ProtocolError around IncompleteRead: the byte counts say it better
        reason = "the connection closed early"
    return DownloadCutShort(
        f"Download of {url} was cut short after {_bytes_of(written, total)} ({reason}); call again to resume "
        f"from {label}."
    )


def _finish(url: str, part: Path, dest: Path, expect: _Expectation, announced: int | None) -> None:
    """Check the finished ``part`` and give it its final name, or say why not."""
    size = part.stat().st_size
    target = expect.size if expect.size is not None else announced
    if target is not None and size < target:
        raise DownloadCutShort(
            f"Download of {url} was cut short after {size} of {target} bytes; call again to resume from "
            f"{part.name}."
        )
    problem = _verification_problem(part, replace(expect, size=target))
    if problem is not None:
        _discard(part)
        raise NotTheExpectedFile(
            f"Download of {url} failed verification ({problem}); the partial file was removed."
        )
    os.replace(part, dest)
    _sidecar(part).unlink(missing_ok=True)


def _digest_spec(sha256: str | None, checksum: tuple[str, str] | None) -> tuple[str, str] | None:
    """(hashlib name, lower-case hex) to check, or None when nothing checkable was published."""
    if sha256 is not None:
        return ("sha256", sha256.strip().lower())
    if checksum is None or not checksum[0] or not checksum[1]:
        return None
    algorithm = _HASHLIB_NAMES.get(str(checksum[0]).upper())
    if algorithm is None:
        logger.info("checksum algorithm %r is not checked; verifying by size only", checksum[0])
        return None
    return (algorithm, str(checksum[1]).strip().lower())


def _verification_problem(path: Path, expect: _Expectation) -> str | None:
    actual_size = path.stat().st_size
    if expect.size is not None and actual_size != expect.size:
        return f"size {actual_size} bytes, expected {expect.size}"
    if expect.content is not None:
        with open(path, "rb") as source:
            problem = expect.content(source.read(_HEAD_BYTES), actual_size)
        if problem is not None:
            return problem
    if expect.digest is not None:
        algorithm, expected = expect.digest
        hasher = hashlib.new(algorithm)
        with open(path, "rb") as source:
            for block in iter(lambda: source.read(_CHUNK_BYTES), b""):
                hasher.update(block)
        if hasher.hexdigest() != expected:
            return f"{algorithm} {hasher.hexdigest()}, expected {expected}"
    return None


def download_granules(
    results: Iterable[GranuleRecord | Mapping[str, Any]],
    cache_dir: str | os.PathLike,
    session: requests.Session | None = None,
    timeout: tuple[float, float] = (10.0, 60.0),
    progress: bool | None = None,
    deadline_s: float = DEFAULT_DEADLINE_S,
) -> list[Path]:
    """Download granules (records from :func:`search_pace_granules`, or raw UMM-G results) into ``cache_dir``.

    Every file name is checked to be plain before anything is fetched. Files already in the cache and
    verified (size, checksum when CMR publishes one, netCDF-4 signature) are not fetched again, and no
    login is attempted when every file is cached, so a filled cache works offline. Otherwise the session
    comes from :func:`earthdata_login` unless one is injected; its token goes to Earthdata hosts only.
    """
    cache = Path(cache_dir)
    records = [item if isinstance(item, GranuleRecord) else granule_record(item) for item in results]
    for record in records:
        plain_file_name(record.name, f"the search result for {record.url}")
    paths = []
    for record in records:
        dest = cache / record.name
        checksum = (record.checksum_algorithm, record.checksum) if record.checksum else None
        expect = _Expectation(record.size, _digest_spec(None, checksum), netcdf4_content)
        if not (dest.exists() and _verification_problem(dest, expect) is None):
            session = session or earthdata_session(timeout=timeout)
        paths.append(
            download_url(
                record.url, dest, record.size, None, timeout, session, checksum=checksum, progress=progress,
                content=netcdf4_content, deadline_s=deadline_s,
            )
        )
    return paths


# ------------------------------------------------------------------------------------- GLERL and gridMET


def _current_year() -> int:
    return datetime.date.today().year


def gridmet_url(variable: str, year: int) -> str:
    """URL of one gridMET yearly file, e.g. ``gridmet_url("tmmx", 2024)`` -> ``.../tmmx_2024.nc``."""
    if variable not in GRIDMET_VARIABLES:
        known = ", ".join(GRIDMET_VARIABLES)
        raise ValueError(f"gridMET variable {variable!r} unknown; expected one of {known}")
    last = _current_year()
    if not isinstance(year, int) or not GRIDMET_FIRST_YEAR <= year <= last:
        raise UnavailableYear(
            f"gridMET has no yearly files for {year!r}: it covers {GRIDMET_FIRST_YEAR} to {last} "
            f"(the current year)."
        )
    return f"{GRIDMET_BASE_URL}/{variable}_{year}.nc"


def fetch_gridmet(
    variables: Iterable[str],
    years: Iterable[int],
    cache_dir: str | os.PathLike,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    session: requests.Session | None = None,
    progress: bool | None = None,
    deadline_s: float = DEFAULT_DEADLINE_S,
) -> dict[tuple[str, int], Path]:
    """Download gridMET yearly files into ``cache_dir``; return ``{(variable, year): path}``.

    No sizes or checksums are published, so each file is verified against the length the server announces
    and the netCDF signature (the current year's file changes daily, which ``If-Range`` guards against).
    """
    variables, years = list(variables), [_whole_year(y) for y in years]
    urls = {(v, y): gridmet_url(v, y) for v in variables for y in years}  # validate before any request
    cache = Path(cache_dir)
    return {
        (v, y): download_url(
            url, cache / f"{v}_{y}.nc", None, None, timeout, session, progress=progress,
            content=netcdf_content, deadline_s=deadline_s,
        )
        for (v, y), url in urls.items()
    }


def _whole_year(year) -> int | Any:
    """``year`` as an int when it is a whole number; anything else is returned for the caller to refuse."""
    try:
        return int(year) if int(year) == year else year
    except (TypeError, ValueError):
        return year


def glerl_files_for_year(year: int) -> list[str]:
    """The GLERL season file(s) holding samples of ``year`` (keys of :data:`GLERL_RAW_URLS`).

    2023 is in none of the public files the spec lists (glerl.md section 1), so it is refused with one
    sentence, as is any year outside 2012-2025.
    """
    names = [name for name, (years, _column) in GLERL_SEASON_FILES.items() if year in years]
    if names:
        return names
    covered = sorted({y for years, _ in GLERL_SEASON_FILES.values() for y in years})
    raise UnavailableYear(
        f"GLERL has no public western Lake Erie samples for {year!r}: the public files "
        f"cover {covered[0]}-2022 and 2024-{covered[-1]} (none holds 2023)."
    )


def fetch_glerl_year(
    year: int,
    cache_dir: str | os.PathLike,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    session: requests.Session | None = None,
    deadline_s: float = DEFAULT_DEADLINE_S,
) -> list[Path]:
    """Download the GLERL season file(s) for ``year`` into ``cache_dir``, each checked for its header."""
    return [
        fetch_glerl(
            cache_dir, url=GLERL_RAW_URLS[name], timeout=timeout, session=session, deadline_s=deadline_s
        )
        for name in glerl_files_for_year(year)
    ]


def fetch_glerl(
    cache_dir: str | os.PathLike,
    url: str = GLERL_COMPILED_URL,
    expected_size: int | None = None,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    session: requests.Session | None = None,
    deadline_s: float = DEFAULT_DEADLINE_S,
) -> Path:
    """Download one GLERL CSV (default: the compiled HAB-F file, checked against its known size).

    Pass ``url=GLERL_RAW_URLS[name]`` for a raw season file; a known file is checked for a column its
    header must hold, so an error page served with status 200 never enters the cache.
    """
    if expected_size is None and url == GLERL_COMPILED_URL:
        expected_size = GLERL_COMPILED_SIZE
    name = plain_file_name(urlsplit(url).path.rsplit("/", 1)[-1], url)
    column = GLERL_HEADER_COLUMNS.get(name)
    content = csv_content(column, f"the GLERL CSV {name}")
    return download_url(
        url, Path(cache_dir) / name, expected_size, None, timeout, session, content=content,
        deadline_s=deadline_s,
    )
