"""The twin's driver: simulate weather, water, overpasses and samples, and write them as real files.

Layout of ``out_dir`` (file names as the real archives name them):

- ``pace/PACE_OCI.<start>.L2.OC_AOP.V3_1.nc``: one L2 AOP granule per overpass day (cut-out swath);
- ``glerl/<year>_WLE_Weekly_Datashare_CSV.csv``: the season's samples, GLERL weekly-datashare layout;
- ``gridmet/<var>_<year>.nc``: yearly gridMET-layout files, lake and Ontario cells as fill;
- ``truth/``: TWIN-ONLY ground truth for the book's diagnostics (true fields, uncensored microcystin);
  no real archive has it, and no reader of real data may depend on it;
- ``twin_manifest.json``: settings, files, sizes and timing, written last (its presence = complete).

Every file is written to a temporary name and renamed, so an interrupted run leaves no half file under
a real name; a run with the same settings over a complete manifest returns it without writing.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from scipy import ndimage

from spectm.atomic import atomic_write
from spectm.bands import oci_rrs_centers
from spectm.data.glerl import datashare_filename
from spectm.data.pace import l2_aop_filename
from spectm.physics.optics import simulate_rrs
from spectm.twin.atmosphere import aerosol_fields, observe, plan_overpass
from spectm.twin.blooms import BloomHistory, simulate_blooms
from spectm.twin.config import SEASON_END, SPINUP_START, TWIN_VERSION, get_size, get_water
from spectm.twin.lake import is_water, model_grid
from spectm.twin.samples import simulate_samples, toxin_quota
from spectm.twin.weather import WEATHER_VARIABLES, simulate_weather
from spectm.twin.writers import write_gridmet_year, write_l2_aop, write_weekly_datashare

MANIFEST_NAME = "twin_manifest.json"
INTERPOLATED = ("chl_surface", "pc_surface", "ag440", "tss")


@dataclass
class TwinManifest:
    """What a twin run wrote: settings, files (relative path, kind, bytes), totals and timing."""

    out_dir: str
    settings: dict
    files: list[dict] = field(default_factory=list)
    total_bytes: int = 0
    seconds: float = 0.0
    timings: dict = field(default_factory=dict)
    reused: bool = False

    def paths(self, kind: str | None = None) -> list[Path]:
        """Absolute paths of the files of one kind ("pace", "glerl", "gridmet", "truth") or all."""
        return [Path(self.out_dir) / f["path"] for f in self.files if kind is None or f["kind"] == kind]


def _settings(size: str, seed: int, year: int, layout: str, water: str = "lake_erie") -> dict:
    settings = {"size": size, "seed": int(seed), "year": int(year), "layout": str(layout), "twin_version": TWIN_VERSION}
    if water != "lake_erie":  # the default twin's settings (and so its manifest and truth file) stay as they were
        settings["water"] = water
    return settings


def _load_complete(out_dir: Path, settings: dict) -> TwinManifest | None:
    path = out_dir / MANIFEST_NAME
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if data.get("settings") != settings:
        return None
    for entry in data.get("files", []):
        file = out_dir / entry["path"]
        if not file.exists() or file.stat().st_size != entry["bytes"]:
            return None
    data["out_dir"] = os.fspath(out_dir)
    data["reused"] = True
    return TwinManifest(**data)


def _atomic(path: Path, write) -> Path:
    """Call ``write(temporary_path)`` inside :func:`spectm.atomic.atomic_write`."""
    with atomic_write(path) as tmp:
        write(tmp)
    return path


def _fields_at(history: BloomHistory, t: int, lon, lat) -> dict[str, np.ndarray]:
    """Bilinear values of the day's fields at pixel positions (land cells filled from the nearest water)."""
    grid = history.grid
    rows, cols = grid.fractional_index(lon, lat)
    _, (fill_r, fill_c) = _nearest_water(grid)
    out = {}
    for name in INTERPOLATED:
        values = history.fields[name][t][fill_r, fill_c].astype(np.float64)
        out[name] = ndimage.map_coordinates(values, [rows, cols], order=1, mode="nearest")
    return out


_NEAREST_CACHE: dict[int, tuple] = {}


def _nearest_water(grid):
    key = id(grid)
    if key not in _NEAREST_CACHE:
        _NEAREST_CACHE.clear()
        _NEAREST_CACHE[key] = ndimage.distance_transform_edt(~grid.water, return_indices=True)
    return _NEAREST_CACHE[key]


def _write_truth(path: Path, history: BloomHistory, year: int, settings: dict) -> None:
    grid = history.grid
    names = {
        "chl_surface": ("chlorophyll-a at the surface (all phytoplankton)", "mg m-3"),
        "pc_surface": ("phycocyanin at the surface", "mg m-3"),
        "cyano_surface": ("cyanobacterial chlorophyll-a at the surface", "mg m-3"),
        "chl_column": ("depth-mean chlorophyll-a", "mg m-3"),
        "cyano_column": ("depth-mean cyanobacterial chlorophyll-a", "mg m-3"),
        "ag440": ("CDOM absorption at 440 nm", "m-1"),
        "tss": ("mineral suspended solids", "g m-3"),
        "water_temperature": ("water temperature", "degC"),
        "surface_factor": ("surface / depth-mean cyanobacteria (wind mixing)", "1"),
        "toxic_share": ("toxin-producing share of the cyanobacterial biomass", "1"),
        "pc_ratio": ("phycocyanin per cyanobacterial chlorophyll-a", "1"),
    }
    data = {k: (("time", "lat", "lon"), history.fields[k], {"long_name": v[0], "units": v[1]}) for k, v in names.items()}
    data["maumee_discharge"] = ("time", history.maumee_discharge.to_numpy(np.float32), {"long_name": "Maumee River discharge", "units": "m3 s-1"})
    data["toxin_quota"] = ("time", toxin_quota(history.days.day_of_year, history.toxin_peak_doy).astype(np.float32),
                           {"long_name": "microcystin per toxic cyanobacterial chlorophyll-a", "units": "1",
                            "peak_day_of_year": round(history.toxin_peak_doy, 2)})  # fmt: skip
    data["water"] = (("lat", "lon"), grid.water.astype(np.int8), {"long_name": "twin water mask (1 = water)"})
    data["depth"] = (("lat", "lon"), grid.depth_m.astype(np.float32), {"long_name": "twin water depth proxy", "units": "m"})
    ds = xr.Dataset(
        data,
        coords={"time": history.days, "lat": ("lat", grid.lat, {"units": "degrees_north", "standard_name": "latitude"}),
                "lon": ("lon", grid.lon, {"units": "degrees_east", "standard_name": "longitude"})},  # fmt: skip
        attrs={"title": "spectm Lake Erie twin: ground truth (TWIN-ONLY, no real archive has this)",
               **{k: str(v) for k, v in settings.items()}},  # fmt: skip
    )
    encoding = {k: {"zlib": True, "complevel": 4} for k in data}
    _atomic(path, lambda tmp: ds.to_netcdf(tmp, engine="netcdf4", encoding=encoding))


def simulate_twin(out_dir, size: str = "quick", seed: int = 0, year: int = 2024, layout: str = "3.1",
                  progress: bool = True, water: str = "lake_erie") -> TwinManifest:  # fmt: skip
    """Simulate one season of the Lake Erie twin and write it as real-format files under ``out_dir``.

    ``size``: "quick" (3.6 km pixels) or "season" (1.2 km); ``layout``: L2 AOP processing version
    ("3.1" layout A, "3.2" layout B). ``water``: the CDOM and sediment regime (``config.WATERS``):
    "lake_erie" (default) or "turbid_bay", a second water body for transfer tests with the same
    geography, weather draws, sampling and file formats. Deterministic for (size, seed, year, layout,
    water). Returns the manifest; if ``out_dir`` already holds a complete manifest of the same
    settings, nothing is rewritten. Give each water body its own ``out_dir``.
    """
    out = Path(out_dir)
    optics = get_water(water)
    settings = _settings(size, seed, year, layout, water)
    done = _load_complete(out, settings)
    if done is not None:
        return done
    twin_size = get_size(size)
    clock = time.perf_counter()
    timings = {}
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST_NAME).unlink(missing_ok=True)
    rng_weather, rng_blooms, rng_atmosphere, rng_samples = (np.random.default_rng(s) for s in np.random.SeedSequence([seed, year]).spawn(4))

    weather = simulate_weather(year, rng_weather)
    written = _write_gridmet(out, year, weather)
    timings["weather_s"] = time.perf_counter() - clock

    grid = model_grid(twin_size.pixel_km)
    history = simulate_blooms(grid, weather, f"{year}-{SPINUP_START}", f"{year}-{SEASON_END}", rng_blooms, optics)
    timings["blooms_s"] = time.perf_counter() - clock - sum(timings.values())

    table = simulate_samples(history, weather, rng_samples, year)
    path = out / "glerl" / datashare_filename(year)
    _atomic(path, lambda tmp: write_weekly_datashare(tmp, table.drop(columns=[c for c in table if c.startswith("true_")])))
    written.append((path, "glerl"))

    days = pd.date_range(f"{year}-{twin_size.season_start}", f"{year}-{twin_size.season_end}", freq="D")
    if progress:
        from tqdm.auto import tqdm

        days = tqdm(days, desc=f"twin {size} granules", unit="day")
    written += [(_write_overpass(out, day, history, weather, twin_size.pixel_km, layout, rng_atmosphere), "pace")
                for day in days]
    timings["granules_s"] = time.perf_counter() - clock - sum(timings.values())

    written += _write_twin_truth(out / "truth", history, table, year, settings)
    timings["truth_s"] = time.perf_counter() - clock - sum(timings.values())
    return _write_manifest(out, settings, written, clock, timings)


def _write_gridmet(out: Path, year: int, weather) -> list[tuple[Path, str]]:
    """The whole year's weather, one file per variable, as gridMET publishes it."""
    written = []
    for variable in WEATHER_VARIABLES:
        path = out / "gridmet" / f"{variable}_{year}.nc"
        _atomic(path, lambda tmp, v=variable: write_gridmet_year(
            tmp, v, weather.fields[v], weather.lat, weather.lon, weather.days, mask=weather.no_data,
            attrs={"date": f"01 January {year + 1}"}))  # fmt: skip
        written.append((path, "gridmet"))
    return written


def _write_overpass(out: Path, day, history, weather, pixel_km: float, layout: str, rng_atmosphere) -> Path:
    """One day's PACE overpass: the water's Rrs seen through that day's atmosphere, as an L2 AOP file."""
    wavelengths = oci_rrs_centers()
    t = history.days.get_loc(day)
    overpass = plan_overpass(day, pixel_km, rng_atmosphere)
    water = is_water(overpass.longitude, overpass.latitude)
    at = _fields_at(history, t, overpass.longitude, overpass.latitude)
    rrs_water = np.full(water.shape + (wavelengths.size,), np.nan, np.float32)
    rrs_water[water] = simulate_rrs(at["chl_surface"][water], at["pc_surface"][water], at["ag440"][water],
                                    at["tss"][water], wavelengths, dtype=np.float32)  # fmt: skip
    basin = weather.basin.loc[day]
    aerosol = aerosol_fields(water.shape, pixel_km, rng_atmosphere)
    rrs, unc, flags = observe(rrs_water, overpass, water, float(basin["cloud_fraction"]), float(basin["wind_speed"]),
                              wavelengths, pixel_km, rng_atmosphere, aerosol)  # fmt: skip
    name = l2_aop_filename(overpass.start, layout)
    version = "3.2" if str(layout) in ("3.2", "B") else "3.1" if str(layout) in ("3.1", "A") else str(layout)
    created = (overpass.start + pd.Timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    path = out / "pace" / name
    _atomic(path, lambda tmp: write_l2_aop(
        tmp, rrs, overpass.latitude, overpass.longitude, flags, overpass.scan_time, layout=layout, rrs_unc=unc,
        tilt=-20.0, aot_865=aerosol.aot_865, angstrom=aerosol.angstrom, attrs={"product_name": name, "id": f"{version}/L2/{name}", "date_created": created}))  # fmt: skip
    return path


def _write_twin_truth(truth: Path, history, table: pd.DataFrame, year: int, settings) -> list[tuple[Path, str]]:
    """The twin-only truth (fields and samples with their true values): what no real source gives."""
    _write_truth(truth / f"twin_truth_{year}.nc", history, year, settings)
    samples_truth = truth / f"twin_samples_truth_{year}.csv"
    _atomic(samples_truth, lambda tmp: table.to_csv(tmp, index=False))
    return [(truth / f"twin_truth_{year}.nc", "truth"), (samples_truth, "truth")]


def _write_manifest(out: Path, settings, written: list[tuple[Path, str]], clock: float, timings: dict) -> TwinManifest:
    """The manifest, written last: its presence says the twin is complete (see ``_load_complete``)."""
    files = [{"path": p.relative_to(out).as_posix(), "kind": k, "bytes": p.stat().st_size} for p, k in written]
    manifest = TwinManifest(out_dir=os.fspath(out), settings=settings, files=files,
                            total_bytes=sum(f["bytes"] for f in files), seconds=time.perf_counter() - clock,
                            timings={k: round(v, 3) for k, v in timings.items()})  # fmt: skip
    record = {k: v for k, v in asdict(manifest).items() if k not in ("out_dir", "reused")}
    _atomic(out / MANIFEST_NAME, lambda tmp: tmp.write_text(json.dumps(record, indent=1)))
    return manifest
