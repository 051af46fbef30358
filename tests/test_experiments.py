"""Cached runs: the folder key changes with config, data selection and training code, and nothing else."""

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from spectm import experiments
from spectm.checkpoint import ResumeError
from spectm.data.errors import DataFormatError
from spectm.datasets import PixelSpectra, split_by_date, synthetic_spectra
from spectm.train import resolve_config


def tiny_table(offset=0.0):
    rrs = np.linspace(0.001, 0.02, 5 * 122).reshape(5, 122) + offset
    times = np.array(["2024-07-01", "2024-07-02", "2024-07-03", "2024-07-04", "2024-07-05"], "datetime64[ns]")
    return xr.Dataset({"Rrs": (("pixel", "wavelength"), rrs)}, coords={"time": ("pixel", times)})


@pytest.fixture(autouse=True)
def data_dir_in_tmp(tmp_path, monkeypatch):
    """run_dir() creates the data root: keep it inside the test's folder."""
    monkeypatch.setenv("SPECTM_DATA", str(tmp_path / "data"))


def test_run_folder_key(monkeypatch):
    table, config = tiny_table(), resolve_config(profile="quick", progress=False)
    first = experiments.run_dir(table, config)
    assert first == experiments.run_dir(table, dict(config, progress=True))  # run-only keys do not count
    assert first != experiments.run_dir(table, dict(config, seed=1))
    assert first != experiments.run_dir(tiny_table(1e-3), config)
    assert first != experiments.run_dir(table, config, data_tag="ablation")
    monkeypatch.setattr(experiments, "code_fingerprint", lambda: "changed-code")
    assert first != experiments.run_dir(table, config)


def test_a_run_config_holds_only_training_keys():
    config = resolve_config(profile="quick", masking="random", seed=3)
    assert config["masking"] == "random" and config["seed"] == 3
    assert not {"twin", "ablation", "seeds", "label_draws", "fair"} & set(config)


def copy_of_package(tmp_path):
    """A copy of the spectm source (no caches) whose files a test may edit."""
    root = Path(experiments.__file__).parent
    copy = tmp_path / "spectm"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_code_key_changes_with_any_module_or_resource(tmp_path):
    copy = copy_of_package(tmp_path)
    before = experiments.code_fingerprint(copy)
    files = sorted(p for p in copy.rglob("*") if p.is_file())
    edited = []
    for path in files:
        original = path.read_bytes()
        path.write_bytes(original + b"\n")
        if experiments.code_fingerprint(copy) != before:
            edited.append(path.relative_to(copy).as_posix())
        path.write_bytes(original)
    python_files = [p.relative_to(copy).as_posix() for p in files if p.suffix == ".py"]
    assert set(python_files) <= set(edited)  # every module, not a hand-kept list
    assert {"bands.py", "data/matchup.py", "data/pixels.py", "resources/grids/oci_rrs_172.csv"} <= set(edited)
    (copy / "__pycache__").mkdir()
    (copy / "__pycache__" / "bands.cpython-311.pyc").write_bytes(b"compiled")
    assert experiments.code_fingerprint(copy) == before  # byte code is not source


def test_code_key_is_the_installed_package_by_default():
    assert experiments.code_fingerprint() == experiments.code_fingerprint(Path(experiments.__file__).parent)


def test_run_key_sees_every_pixel_not_a_sample():
    n = 1200  # more than the 512 rows the old key sampled
    rrs = np.linspace(0.001, 0.02, n * 122).reshape(n, 122)
    times = np.datetime64("2024-07-01", "ns") + np.arange(n).astype("timedelta64[h]")
    table = xr.Dataset({"Rrs": (("pixel", "wavelength"), rrs)}, coords={"time": ("pixel", times)})
    changed = table.copy(deep=True)
    changed["Rrs"].values[1, 7] += 1e-4  # one value of an unsampled row
    config = resolve_config(profile="quick", progress=False)
    assert experiments.run_dir(table, config) != experiments.run_dir(changed, config)


def test_metrics_reader_drops_a_torn_last_line_only(tmp_path):
    records = [{"kind": "step", "step": 1, "loss": 1.0}, {"kind": "epoch", "epoch": 0, "step": 1}]
    text = "".join(json.dumps(r) + "\n" for r in records)
    (tmp_path / "metrics.jsonl").write_text(text + '{"kind": "step", "st')
    steps, epochs = experiments.metrics(tmp_path)
    assert steps == records[:1] and epochs == records[1:]
    (tmp_path / "metrics.jsonl").write_text('{"kind": "st\n' + text)
    with pytest.raises(DataFormatError, match="metrics.jsonl.*line 1"):
        experiments.metrics(tmp_path)


TINY_RUN = {"model": {"n_layers": 1, "width": 32, "n_heads": 2, "decoder_width": 32, "decoder_depth": 1,
                      "decoder_heads": 2, "n_wavelength_frequencies": 8}, "batch_size": 32, "max_steps": 2}



def test_a_finished_run_is_not_reused_for_other_training_data(one_thread):
    spectra = synthetic_spectra(200, seed=1, n_dates=10)
    data = PixelSpectra(spectra["Rrs"], spectra["time"], spectra["future"])
    train_rows, validation_rows = split_by_date(data.time, 0.2, seed=0)
    table, config = tiny_table(), resolve_config(profile="quick", progress=False, **TINY_RUN)
    run = experiments.pretrain(table, config, data.subset(train_rows), data.subset(validation_rows),
                               device="cpu")
    assert experiments.pretrain(table, config, data.subset(train_rows), data.subset(validation_rows)) == run
    other = data.subset(train_rows[: len(train_rows) // 2])  # a selection passed without a data_tag
    with pytest.raises(ResumeError, match=rf"{re.escape(str(run))} holds a run on other training data"):
        experiments.pretrain(table, config, other, data.subset(validation_rows))
    assert not list(run.glob("*.part")) and not list(run.glob(".tmp-*")) and (run / "summary.json").exists()
