"""Cached runs: the folder key changes with config, data selection and training code, and nothing else."""

import numpy as np
import xarray as xr

from spectm import experiments


def tiny_table(offset=0.0):
    rrs = np.linspace(0.001, 0.02, 5 * 122).reshape(5, 122) + offset
    times = np.array(["2024-07-01", "2024-07-02", "2024-07-03", "2024-07-04", "2024-07-05"], "datetime64[ns]")
    return xr.Dataset({"Rrs": (("pixel", "wavelength"), rrs)}, coords={"time": ("pixel", times)})


def test_run_folder_key(monkeypatch):
    table, config = tiny_table(), experiments.run_config("quick")
    first = experiments.run_dir(table, config)
    assert first == experiments.run_dir(table, dict(config, progress=True))  # run-only keys do not count
    assert first != experiments.run_dir(table, dict(config, seed=1))
    assert first != experiments.run_dir(tiny_table(1e-3), config)
    assert first != experiments.run_dir(table, config, data_tag="ablation")
    monkeypatch.setattr(experiments, "code_fingerprint", lambda: "changed-code")
    assert first != experiments.run_dir(table, config)


def test_run_config_keeps_only_training_keys():
    config = experiments.run_config("quick", masking="random", seed=3)
    assert config["masking"] == "random" and config["seed"] == 3
    assert not {"twin_size", "device", "ablation_seeds", "label_draws"} & set(config)
