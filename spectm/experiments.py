"""The book's experiments as cached runs: one pretraining run per (data, profile, masking, heads, seed).

Several chapters need the same pretrained encoder (reconstruction, microcystin, ablations, trust). A run
lives in a folder named by a key of everything that changes its result, so a chapter that asks for a run
already trained by an earlier chapter gets the checkpoint back instead of training twice; a killed run
resumes from its last checkpoint (the training loop does that).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from spectm import budget, paths
from spectm.checkpoint import ResumeError, load_checkpoint, run_lock, source_fingerprint
from spectm.datasets import PixelSpectra, from_pixel_table, split_by_date
from spectm.profiles import get_profile
from spectm.train import data_fingerprint, load_pretrained, read_metrics_log, train

#: Profile keys that are about data or devices, not about the training run itself.
_NOT_TRAINING = ("twin_size", "device")


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


def run_config(profile: str, masking: str = "targeted", seed: int = 0, **overrides) -> dict:
    """The training config of a profile: the profile's training keys plus the masking family and seed."""
    settings = {k: v for k, v in get_profile(profile).items()
                if k not in _NOT_TRAINING and not k.startswith(("ablation_", "label_", "fair_"))}
    settings.update(profile=profile, masking=masking, seed=seed, progress=False)
    settings.update(overrides)
    return settings


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

    Pass ``data_tag`` whenever ``train_data`` is not the default date split of ``table``.
    """
    out = run_dir(table, config, data_tag)
    if (out / "summary.json").exists():
        return _finished_run(out, train_data, validation_data)
    if train_data is None:
        train_data, validation_data, _, _ = pretraining_data(table, seed=0)
    config = dict(config, device=device or ("cuda" if torch.cuda.is_available() else "cpu"), resume=True)
    budget.check_long_run(config, len(train_data), config["device"])  # hours on a CPU: refused, with the override
    with run_lock(out):  # held from training to summary, so a second process never writes here meanwhile
        if (out / "summary.json").exists():  # finished by another process while we prepared the data
            return _finished_run(out, train_data, validation_data)
        summary = train(config, train_data, validation_data, out_dir=out)
        partial = out / "summary.json.part"
        partial.write_text(json.dumps(summary, indent=1, default=str))
        partial.replace(out / "summary.json")
    return out


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
def embeddings(run: Path, rrs: np.ndarray, batch_size: int = 2048) -> np.ndarray:
    """Frozen embeddings of spectra ``rrs`` (N, B) on the model grid: every observed band, no mask."""
    model = load_pretrained(run)
    wavelengths = torch.as_tensor(model.wavelengths, dtype=torch.float32)
    values = torch.as_tensor(np.asarray(rrs, dtype=np.float32))
    out = [model.embed(values[i:i + batch_size], wavelengths).numpy() for i in range(0, len(values), batch_size)]
    return np.concatenate(out) if out else np.empty((0, model.config.width), np.float32)


def lake_erie_data(profile: str, seed: int = 0, year: int = 2024, source: str = "twin",
                   water: str = "lake_erie") -> dict:
    """Everything the downstream chapters read, built once and cached on disk.

    Returns ``twin`` (the manifest, or None for real data), ``pixels`` (the pixel table), ``samples``
    (GLERL), ``weather`` (gridMET), and ``current`` / ``ahead``: the current-week and 8-day-ahead
    matchup tables with the 52 weather features attached (for ``ahead``, weather up to the image date).
    ``water`` picks the twin's water body (``spectm.twin.WATERS``; the transfer test uses "turbid_bay").
    """
    from spectm.data import glerl, gridmet, matchup, pixels
    from spectm.data import weather as weather_features
    from spectm.evaluate.features import attach_weather
    from spectm.maps import WESTERN_LAKE_ERIE_BBOX
    from spectm.twin import simulate_twin

    settings = get_profile(profile)
    if source == "real" and water != "lake_erie":
        raise ValueError(f"real data exist only for Lake Erie; water={water!r} is a twin water body "
                         "(use source='twin')")
    if source == "twin":
        twin = simulate_twin(paths.twin_dir(settings["twin_size"], seed, year, water), size=settings["twin_size"],
                             seed=seed, year=year, water=water, progress=False)
        granules, sample_files, weather_files = twin.paths("pace"), twin.paths("glerl"), twin.paths("gridmet")
    elif source == "real":
        from spectm.data.layout import require_season

        season = require_season(year)  # this season's files only, as `spectm fetch` lays them out
        twin, granules, sample_files, weather_files = None, season.pace, season.glerl, season.gridmet
    else:
        raise ValueError(f"source must be 'twin' or 'real', got {source!r}")
    table = pixels.build_pixel_table(granules, WESTERN_LAKE_ERIE_BBOX, cache_dir=paths.data_dir() / "cache",
                                     progress=False).load()
    samples = glerl.read_glerl_many(sample_files)
    weather = gridmet.open_gridmet(weather_files, bbox=WESTERN_LAKE_ERIE_BBOX).load()
    out = {"twin": twin, "pixels": table, "samples": samples, "weather": weather}
    for name, lead in (("current", 0), ("ahead", 8)):
        matched = matchup.match_samples(samples, table, max_distance_km=2.0, max_days=4, lead_days=lead)
        times = matched.table["time"].values if lead == 0 else matched.table["pixel_time"].values
        features = weather_features.weather_features(weather, times, matched.table["latitude"].values,
                                                     matched.table["longitude"].values)
        out[name] = attach_weather(matched.table, features)
        out[f"{name}_survival"] = matched.survival
    return out

