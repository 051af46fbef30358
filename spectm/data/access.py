"""The real-data path: Earthdata login, PACE granule search, and verified, resumable HTTPS downloads.

Everything here talks to the network, so everything here fails the same way: a :class:`DataAccessError`
whose message is one sentence saying what is missing and how to provide it, raised at once. Nothing
prompts for input (a book executed by papermill has no stdin), and every HTTP request carries a
(connect, read) timeout, so a dead server costs seconds, not a hung build. The offline default of the
book is the simulated twin (``source='twin'``); this module is only needed for ``source='real'``.

Downloads are ours rather than ``earthaccess.download``'s so that the cache is trustworthy: a file lands
under its final name only after its size (and checksum, when one is published) has been verified; an
interrupted transfer stays as ``<name>.part`` and is resumed with an HTTP ``Range`` request.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

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

#: gridMET yearly files, direct HTTPS (``shared/specs/gridmet.md`` section 6): ``<short>_<year>.nc``.
GRIDMET_BASE_URL = "https://www.northwestknowledge.net/metdata/data"
#: The 16 daily gridMET variables by file prefix (``shared/specs/gridmet.md`` section 2).
GRIDMET_VARIABLES = (
    "pr", "rmax", "rmin", "sph", "srad", "th", "tmmn", "tmmx",
    "vs", "bi", "fm100", "fm1000", "erc", "etr", "pet", "vpd",
)  # fmt: skip
#: gridMET starts on 1979-01-01.
GRIDMET_FIRST_YEAR = 1979

#: The HAB-F compiled GLERL file (surface and scum samples 2012-2025, 8 columns), pinned to the commit
#: described in ``shared/specs/glerl.md`` (S6), with its published size in bytes.
GLERL_COMPILED_URL = (
    "https://raw.githubusercontent.com/jbcox-noaa/HAB-F/10923ee995b1ab2ca1f4d56eda63457cd4dc1538/"
    "microcystin_detection/glrl-hab-data.csv"
)
GLERL_COMPILED_SIZE = 108_218
_GLERL_RAW_BASE = (
    "https://raw.githubusercontent.com/j-b-cox/HAB-F-Capstone/e824978db242565319e222c47809d83d0c2c84ed/"
    "GLERL_GT/data/"
)
#: Public copies of the raw GLERL CSVs (``shared/specs/glerl.md`` S4). The authoritative archive is NCEI,
#: doi:10.25921/11da-3x54; whether these copies equal the current NCEI files is unconfirmed.
GLERL_RAW_URLS: dict[str, str] = {
    name: _GLERL_RAW_BASE + name
    for name in (
        "lake_erie_habs_field_sampling_results_2012_2018.csv",
        "lake_erie_habs_field_sampling_results_2019.csv",
        "noaa-glerl-erie-habs-field-sampling-results-2020-2021.csv",
        "noaa-glerl-erie-habs-field-sampling-results-2022.csv",
        "noaa-glerl-erie-habs-field-sampling-transects-results-2021.csv",
        "noaa-glerl-erie-habs-field-sampling-transects-results-2022.csv",
        "2024_WLE_Weekly_Datashare_CSV.csv",
        "2025_WLE_Weekly_Datashare_CSV.csv",
    )
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
    """A ``requests`` session carrying the Earthdata bearer token, with a default timeout on every request."""
    return with_default_timeout(earthdata_login(strategy).get_session(), timeout)


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


def search_pace_granules(
    start: str,
    end: str,
    bbox: tuple[float, float, float, float],
    short_name: str | Sequence[str] = "PACE_OCI_L2_AOP",
    version: str = "3.1",
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


# --------------------------------------------------------------------------------------------- download


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
) -> Path:
    """Download ``url`` to ``dest`` over HTTP(S): verified, resumable and atomic; return ``dest``.

    A ``dest`` that already exists and passes verification is kept without any request. Bytes go to
    ``<dest>.part``; a ``.part`` left by an interrupted run is resumed with ``Range: bytes=<n>-`` when the
    server answers 206, and restarted when it answers 200. The file is renamed to ``dest`` only after its
    size (``expected_size``, else the server's announced length) and digest (``sha256``, or ``checksum``
    = (UMM-G algorithm name, hex value)) match. A digest mismatch deletes the ``.part``; a transfer cut
    short keeps it for the next call.
    """
    dest = Path(dest)
    digest = _digest_spec(sha256, checksum)
    if dest.exists():
        problem = _verification_problem(dest, expected_size, digest)
        if problem is None:
            logger.debug("%s already present and verified", dest)
            return dest
        logger.warning("%s is in the cache but %s; downloading it again", dest, problem)
        dest.unlink()
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    if part.exists() and expected_size is not None and part.stat().st_size > expected_size:
        part.unlink()

    session = with_default_timeout(session or requests.Session(), timeout)
    announced = _transfer(url, part, session, timeout, expected_size, progress)

    size = part.stat().st_size
    target = expected_size if expected_size is not None else announced
    if target is not None and size < target:
        raise DataAccessError(
            f"Download of {url} stopped at {size} of {target} bytes; call again to resume from {part.name}."
        )
    problem = _verification_problem(part, target, digest)
    if problem is not None:
        part.unlink()
        raise DataAccessError(
            f"Download of {url} failed verification ({problem}); the partial file was removed."
        )
    os.replace(part, dest)
    return dest


def _transfer(url, part: Path, session, timeout, expected_size, progress) -> int | None:
    """Append the missing bytes of ``url`` to ``part``; return the total size the server announced."""
    offset = part.stat().st_size if part.exists() else 0
    if expected_size is not None and offset == expected_size:
        return expected_size  # the earlier run got every byte; only verification is left
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    try:
        with session.get(url, headers=headers, stream=True, timeout=timeout) as response:
            if response.status_code == 416 and offset:
                total = response.headers.get("Content-Range", "").rsplit("/", 1)[-1]
                if total.isdigit() and int(total) == offset:
                    return offset  # every byte arrived before the last run stopped
                part.unlink()  # our .part is longer than the file: start over
                return _transfer(url, part, session, timeout, expected_size, progress)
            _raise_for_status(url, response)
            if response.status_code == 206 and _content_range_start(response) != offset:
                part.unlink(missing_ok=True)  # a range we did not ask for: start over
                return _transfer(url, part, session, timeout, expected_size, progress)
            resumed = response.status_code == 206
            total = _announced_total(response, offset if resumed else 0)
            with open(part, "ab" if resumed else "wb") as sink:
                _copy_body(response, sink, total, offset if resumed else 0, part.name, progress)
                sink.flush()
                os.fsync(sink.fileno())
            return total
    except DataAccessError:
        raise
    except Exception as error:  # requests/urllib3 errors, OSError, or a blocked socket
        raise _unreachable(_host(url), error, timeout) from error


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


def _announced_total(response: requests.Response, start: int) -> int | None:
    if response.status_code == 206:
        total = response.headers.get("Content-Range", "").rsplit("/", 1)[-1]
        return int(total) if total.isdigit() else None
    length = response.headers.get("Content-Length")
    encoded = response.headers.get("Content-Encoding", "identity") != "identity"
    return int(length) + start if length and length.isdigit() and not encoded else None


def _copy_body(response, sink, total, start, label, progress) -> None:
    show = progress if progress is not None else (total or 0) - start >= PROGRESS_MIN_BYTES
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024, desc=label)
    try:
        for chunk in response.iter_content(chunk_size=_CHUNK_BYTES):
            try:
                sink.write(chunk)
            except OSError as error:
                raise DataAccessError(
                    f"Cannot write {sink.name} ({error.strerror or error}); free disk space or choose "
                    f"another cache_dir."
                ) from error
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()


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


def _verification_problem(path: Path, size: int | None, digest: tuple[str, str] | None) -> str | None:
    actual_size = path.stat().st_size
    if size is not None and actual_size != size:
        return f"size {actual_size} bytes, expected {size}"
    if digest is not None:
        algorithm, expected = digest
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
) -> list[Path]:
    """Download granules (records from :func:`search_pace_granules`, or raw UMM-G results) into ``cache_dir``.

    Files already in the cache and verified are not fetched again, and no login is attempted when every
    file is cached, so a filled cache works offline. Otherwise the session comes from
    :func:`earthdata_login` (bearer token), unless one is injected.
    """
    cache = Path(cache_dir)
    paths = []
    for item in results:
        record = item if isinstance(item, GranuleRecord) else granule_record(item)
        dest = cache / record.name
        checksum = (record.checksum_algorithm, record.checksum) if record.checksum else None
        digest = _digest_spec(None, checksum)
        if not (dest.exists() and _verification_problem(dest, record.size, digest) is None):
            session = session or earthdata_session(timeout=timeout)
        paths.append(
            download_url(
                record.url, dest, record.size, None, timeout, session, checksum=checksum, progress=progress
            )
        )
    return paths


# ------------------------------------------------------------------------------------- GLERL and gridMET


def gridmet_url(variable: str, year: int) -> str:
    """URL of one gridMET yearly file, e.g. ``gridmet_url("tmmx", 2024)`` -> ``.../tmmx_2024.nc``."""
    if variable not in GRIDMET_VARIABLES:
        known = ", ".join(GRIDMET_VARIABLES)
        raise ValueError(f"gridMET variable {variable!r} unknown; expected one of {known}")
    if int(year) != year or year < GRIDMET_FIRST_YEAR:
        raise ValueError(f"gridMET year {year!r} invalid; expected an integer year >= {GRIDMET_FIRST_YEAR}")
    return f"{GRIDMET_BASE_URL}/{variable}_{int(year)}.nc"


def fetch_gridmet(
    variables: Iterable[str],
    years: Iterable[int],
    cache_dir: str | os.PathLike,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    session: requests.Session | None = None,
    progress: bool | None = None,
) -> dict[tuple[str, int], Path]:
    """Download gridMET yearly files into ``cache_dir``; return ``{(variable, year): path}``.

    No sizes or checksums are published, so each file is verified against the length the server announces.
    """
    variables, years = list(variables), [int(y) for y in years]
    urls = {(v, y): gridmet_url(v, y) for v in variables for y in years}  # validate before any request
    cache = Path(cache_dir)
    return {
        (v, y): download_url(url, cache / f"{v}_{y}.nc", None, None, timeout, session, progress=progress)
        for (v, y), url in urls.items()
    }


def fetch_glerl(
    cache_dir: str | os.PathLike,
    url: str = GLERL_COMPILED_URL,
    expected_size: int | None = None,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    session: requests.Session | None = None,
) -> Path:
    """Download one GLERL CSV (default: the compiled HAB-F file, checked against its known size).

    Pass ``url=GLERL_RAW_URLS[name]`` for a raw season file.
    """
    if expected_size is None and url == GLERL_COMPILED_URL:
        expected_size = GLERL_COMPILED_SIZE
    name = urlsplit(url).path.rsplit("/", 1)[-1] or "glerl.csv"
    return download_url(url, Path(cache_dir) / name, expected_size, None, timeout, session)
