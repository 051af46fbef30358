"""The book's experiments as cached runs: one pretraining run per (data, profile, masking, heads, seed).

Several chapters need the same pretrained encoder (reconstruction, microcystin, ablations, trust). A run
lives in a folder named by a key of everything that changes its result, so a chapter that asks for a run
already trained by an earlier chapter gets the checkpoint back instead of training twice; a killed run
resumes from its last checkpoint (the training loop does that).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from spectm import budget, paths
from spectm.atomic import atomic_write_text
from spectm.checkpoint import ResumeError, load_checkpoint, run_lock, source_fingerprint
from spectm.data.region import WESTERN_LAKE_ERIE_BBOX
from spectm.datasets import PixelSpectra, from_pixel_table, split_by_date
from spectm.paper import PAPER
from spectm.profiles import get_profile
from spectm.train import data_fingerprint, load_pretrained, read_metrics_log, train

def table_fingerprint(table: xr.Dataset) -> str:
    """A content key of a pixel table: sha256 over every value pretraining reads (Rrs as float32, times,
    positions for the 8-day pairs, wavelengths). All of it, not a sample: two tables that differ in one
    unsampled pixel must not share a run (sha256 reads about 1 GB/s, seconds for a season)."""
    digest = hashlib.sha256()
    fields = {"Rrs": np.float32, "time": "datetime64[s]", "latitude": np.float64, "longitude": np.float64,
              "wavelength": np.float64}
    for name, dtype in fields.items():
        if name not in table.variables:
            digest.update(f"no {name}".encode())
            continue
        values = np.ascontiguousarray(np.asarray(table[name].values).astype(dtype))
        digest.update(f"{name}{values.dtype}{values.shape}".encode())
        digest.update(values.view(np.uint8) if values.size else b"")
    return digest.hexdigest()[:16]


def pretraining_data(table: xr.Dataset, validation_fraction: float = 0.2, seed: int = 0):
    """``(train, validation, dataset, (train_rows, validation_rows))`` split by date, never by pixel."""
    dataset = from_pixel_table(table)
    train_rows, validation_rows = split_by_date(dataset.time, validation_fraction, seed)
    return dataset.subset(train_rows), dataset.subset(validation_rows), dataset, (train_rows, validation_rows)


def code_fingerprint(root=None) -> str:
    """A short hash of the whole package source (every module and resource, see
    :func:`spectm.checkpoint.source_fingerprint`): a change to any of them starts new runs."""
    return source_fingerprint(root)


def run_dir(table: xr.Dataset, config: dict, data_tag: str = "") -> Path:
    """Where the run of ``config`` on ``table`` lives: ``data/runs/<masking>-seed<k>-<key>``.

    ``data_tag`` names any selection of the training data beyond the default date split (an ablation's
    subsample), so runs on different data never share a folder; the key also holds
    :func:`code_fingerprint`, so a run made by older training code is never reused.
    """
    trajectory = {k: v for k, v in config.items() if k not in ("progress", "resume", "device")}
    text = (json.dumps(trajectory, sort_keys=True, default=str) + table_fingerprint(table) + data_tag
            + code_fingerprint())
    key = hashlib.sha256(text.encode()).hexdigest()[:10]
    return paths.data_dir() / "runs" / f"{config['profile']}-{config['masking']}-seed{config['seed']}-{key}"


def pretrain(table: xr.Dataset, config: dict, train_data: PixelSpectra | None = None,
             validation_data: PixelSpectra | None = None, device: str | None = None, data_tag: str = "") -> Path:
    """Train (or resume, or reuse) the run of ``config`` on ``table``; returns its folder.

    Without ``train_data`` the run trains on the date split of ``table`` seeded by ``config["seed"]``
    (:func:`pretraining_data`); pass ``data_tag`` whenever ``train_data`` is another selection.
    """
    out = run_dir(table, config, data_tag)
    if _has_summary(out):
        return _finished_run(out, train_data, validation_data)
    if train_data is None:
        train_data, validation_data, _, _ = pretraining_data(table, seed=config["seed"])
    config = dict(config, device=device or ("cuda" if torch.cuda.is_available() else "cpu"), resume=True)
    budget.check_long_run(config, len(train_data), config["device"])  # hours on a CPU: refused, with the override
    with run_lock(out):  # held from training to summary, so a second process never writes here meanwhile
        if _has_summary(out):  # finished by another process while we prepared the data
            return _finished_run(out, train_data, validation_data)
        summary = train(config, train_data, validation_data, out_dir=out)
        atomic_write_text(out / "summary.json", json.dumps(summary, indent=1, default=str))
    return out


def _has_summary(out: Path) -> bool:
    """Whether the run has its summary; a damaged one (cut short, emptied) is named in a warning and counts
    as missing, so the finished checkpoint is entered again and the summary written anew from it."""
    path = out / "summary.json"
    if not path.exists():
        return False
    try:
        return isinstance(json.loads(path.read_text()), dict)
    except (ValueError, UnicodeDecodeError) as error:
        warnings.warn(f"{path} is damaged ({error}); writing it again from the run's checkpoint",
                      stacklevel=3)
        return False


def _finished_run(out: Path, train_data, validation_data) -> Path:
    """A finished run, reused only if it was trained on the data given (a selection the caller passed
    without a fitting ``data_tag`` would otherwise get another selection's run)."""
    if train_data is not None:
        recorded = load_checkpoint(out).get("data_fingerprint")
        given = data_fingerprint(train_data, validation_data)
        if recorded != given:
            raise ResumeError(f"{out} holds a run on other training data (data_fingerprint {recorded} there, "
                              f"{given} given); pass a data_tag that names this selection")
    return out


def metrics(run: Path) -> tuple[list[dict], list[dict]]:
    """The run's metrics log as (step records, epoch records); a line torn by a killed run is left out."""
    records = read_metrics_log(Path(run) / "metrics.jsonl")
    return [r for r in records if r["kind"] == "step"], [r for r in records if r["kind"] == "epoch"]


@torch.no_grad()
def embeddings(run: Path, Rrs: np.ndarray, batch_size: int = 2048) -> np.ndarray:
    """Frozen embeddings of spectra ``Rrs`` (N, B) on the model grid: every observed band, no mask."""
    model = load_pretrained(run)
    wavelengths = torch.as_tensor(model.wavelengths, dtype=torch.float32)
    values = torch.as_tensor(np.asarray(Rrs, dtype=np.float32))
    out = [model.embed(values[i:i + batch_size], wavelengths).numpy() for i in range(0, len(values), batch_size)]
    return np.concatenate(out) if out else np.empty((0, model.config.width), np.float32)


def lake_erie_data(profile: str, seed: int = 0, year: int = 2024, source: str = "twin",
                   water: str = "lake_erie") -> dict:
    """Everything the downstream chapters read, built once and cached on disk.

    Returns ``twin`` (the manifest, or None for real data), ``files`` (see :func:`source_files`),
    ``pixels`` (the pixel table), ``samples`` (GLERL), ``weather`` (gridMET), and ``current`` / ``ahead``
    with ``current_survival`` / ``ahead_survival``: the matchup tables of :func:`matchup_tables`.
    ``water`` picks the twin's water body (``spectm.twin.WATERS``; the transfer test uses "turbid_bay").
    """
    files = source_files(profile, seed, year, source, water)
    sources = open_sources(files)
    return {"twin": files["twin"], "files": files, **sources, **matchup_tables(**sources)}


def source_files(profile: str, seed: int = 0, year: int = 2024, source: str = "twin",
                 water: str = "lake_erie") -> dict:
    """``{"twin", "pace", "glerl", "gridmet"}``: the twin's manifest (written or reused; None for real data)
    and the lists of granule, sample and weather files of the season."""
    if source == "twin":
        from spectm.twin import simulate_twin

        size = get_profile(profile)["twin"]["name"]
        twin = simulate_twin(paths.twin_dir(size, seed, year, water), size=size, seed=seed, year=year,
                             water=water, progress=False)
        return {"twin": twin, **{kind: twin.paths(kind) for kind in ("pace", "glerl", "gridmet")}}
    if source != "real":
        raise ValueError(f"source must be 'twin' or 'real', got {source!r}")
    if water != "lake_erie":
        raise ValueError(f"real data exist only for Lake Erie; water={water!r} is a twin water body "
                         "(use source='twin')")
    from spectm.data.layout import require_season

    season = require_season(year)  # this season's files only, as `spectm fetch` lays them out
    return {"twin": None, "pace": season.pace, "glerl": season.glerl, "gridmet": season.gridmet}


def open_sources(files: dict) -> dict:
    """``{"pixels", "samples", "weather"}`` of :func:`source_files`' lists: the pixel table of the western
    basin (cached under the data folder), the GLERL samples and the gridMET weather, loaded."""
    from spectm.data import glerl, gridmet, pixels

    table = pixels.build_pixel_table(files["pace"], WESTERN_LAKE_ERIE_BBOX, cache_dir=paths.data_dir() / "cache",
                                     progress=False).load()
    return {"pixels": table, "samples": glerl.read_glerl_many(files["glerl"]),
            "weather": gridmet.open_gridmet(files["gridmet"], bbox=WESTERN_LAKE_ERIE_BBOX).load()}


#: The paper's matchup rule: the nearest valid pixel within a distance and a number of days of a sample.
MATCHUP_RULE = {"max_distance_km": PAPER["matchup_km"].value, "max_days": int(PAPER["matchup_days"].value)}


def matchup_tables(pixels, samples, weather) -> dict:
    """``current`` and ``ahead`` (imagery 8 or more days before the sample): matchup tables of the samples
    with the 52 weather features attached (for ``ahead``, weather up to the image date, so nothing after
    the image leaks in), and each one's ``*_survival`` table (samples left after each step of the rule)."""
    from spectm.data import matchup
    from spectm.data.weather import attach_weather, weather_features

    out = {}
    for name, lead in (("current", 0), ("ahead", 8)):
        matched = matchup.match_samples(samples, pixels, lead_days=lead, **MATCHUP_RULE)
        times = matched.table["time"].values if lead == 0 else matched.table["pixel_time"].values
        features = weather_features(weather, times, matched.table["latitude"].values,
                                    matched.table["longitude"].values)
        out[name] = attach_weather(matched.table, features)
        out[f"{name}_survival"] = matched.survival
    return out
