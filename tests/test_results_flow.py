"""The results hand-off of chapters 5-9 on real data, laid out as ``spectm fetch`` lays it out.

Real-format files (a short twin season written in the formats of PACE OCI L2, the GLERL datashare and
gridMET) are copied under ``real/pace``, ``real/glerl`` and ``real/gridmet`` with the names the fetch
command gives them. Each chapter's results are then computed with the package functions the chapter
calls, on tiny budgets, and saved or loaded through the chapter's ``ResultStore(profile, seed, "real")``;
the chapter order is the one the Makefile derives. What is checked is the hand-off: every number lands
under ``real-...``, nothing under ``twin-...``, and the side-by-side table reads all of it, trust rows
included. Executing the notebooks themselves takes minutes per chapter; the slow test executes only the
side-by-side chapter, on the results this flow left.
"""

import shutil

import numpy as np
import pandas as pd
import pytest

from spectm import experiments, fair_test, paths
from spectm.embeddings import frozen_embeddings, untrained_model
from spectm.evaluate import (ablations, claims, conformal, controls, features, label_efficiency, protocol,
                             reconstruction)
from spectm.evaluate.baselines import run_grid
from spectm.results import CHAPTER_RESULTS, ResultStore, chapter_order
from spectm.train import load_pretrained, resolve_config
from spectm.twin import config, simulate_twin

PROFILE, SEED = "quick", 0
#: Six summer weeks at 7.2 km: enough sampling weeks for week-grouped folds, a few seconds to write.
SHORT_SEASON = config.TwinSize("short-season", 7.2, season_start="06-24", season_end="08-04",
                               description="tests only: six weeks at 7.2 km")
#: Outer folds, repeats and bootstrap draws small enough for a unit test.
SMALL_CV = {"n_splits": 3, "n_repeats": 1, "inner_splits": 2, "n_boot": 50}
TASKS = {"current_week": "current", "8_day_ahead": "ahead"}


def lay_out_real_files(twin_dir) -> None:
    """Write a short twin and copy its files where ``spectm fetch pace|glerl|gridmet`` puts downloads."""
    twin = simulate_twin(twin_dir, size=SHORT_SEASON.name, seed=SEED, progress=False)
    for kind in ("pace", "glerl", "gridmet"):
        folder = paths.real_dir() / kind
        folder.mkdir(parents=True)
        for file in twin.paths(kind):
            shutil.copy2(file, folder / file.name)


#: A pretraining run of a few steps of a narrow encoder: the hand-off needs a checkpoint, not a good one.
TINY_RUN = {"epochs": 1, "max_steps": 3, "batch_size": 128,
            "model": {"n_layers": 1, "width": 16, "n_heads": 2, "decoder_width": 16, "decoder_heads": 2}}


def pretrain(data, **overrides):
    config_ = resolve_config(profile=PROFILE, seed=overrides.pop("seed", SEED), progress=False,
                             **{**TINY_RUN, **overrides})
    return experiments.pretrain(data["pixels"], config_)


def reconstruction_chapter(store, data, run):
    """Chapter 5: held-out reconstruction, polynomial and holding extrapolation."""
    _, _, _, (_, validation_rows) = experiments.pretraining_data(data["pixels"], seed=0)
    model = load_pretrained(run)
    kinds = [reconstruction.evaluate_reconstruction(model, data["pixels"], validation_rows,
                                                    masking="targeted", extrapolation=how)
             for how in ("polynomial", "hold")]
    hold = kinds[1][kinds[1].method != "spectm"].assign(method=lambda d: d.method + " (hold)")
    store.save("reconstruction", pd.concat([kinds[0], hold], ignore_index=True).to_dict("records"))


def microcystin_chapter(store, data, run):
    """Chapter 6: baselines and SpecTM embeddings on both tasks, condensed into the chapter's record."""
    grid, spectm_grid = [], []
    for key in TASKS.values():
        table = data[key]
        grid.append(run_grid(["indices", "weather", "indices+weather"], ("ridge",), table, profile=PROFILE,
                             n_jobs=1, settings=SMALL_CV))
        spectm_grid.append(run_grid(["embedding", "embedding+weather"], ("ridge",), table, profile=PROFILE,
                                    n_jobs=1, settings=SMALL_CV,
                                    embedding=experiments.embeddings(run, table["Rrs"].values)))
    summary = claims.microcystin_summary(pd.concat(grid, ignore_index=True),
                                         pd.concat(spectm_grid, ignore_index=True))
    store.save("microcystin", summary.reset_index().to_dict("records"))
    store.save("fair_test", fair_test_within_season(data, run))
    store.save("baseline_selection", {"season": 2024, "other_season": None, "tasks": []})  # one season: none


def fair_test_within_season(data, run):
    """Chapter 6's fair-test record, from one season (the flow has one): the same controls, arms and
    comparisons, scored by week-grouped folds instead of leave-one-season-out."""
    model = load_pretrained(run)
    scores, differences = {}, {}
    for task, lead in (("current", 0), ("ahead", 8)):
        table = data[task]
        rrs = table["Rrs"].values
        encoders = {"targeted seed 0": frozen_embeddings(model, rrs),
                    "targeted masked seed 0": frozen_embeddings(model, rrs, masked=True),
                    "random seed 0": frozen_embeddings(untrained_model(model, seed=1), rrs),
                    "untrained seed 0": frozen_embeddings(untrained_model(model, seed=0), rrs)}
        features_ = {**controls.control_features(table, data["samples"], lead), **encoders}
        scores[task] = controls.score_controls(table, features_, n_splits=3, n_repeats=1, n_boot=50)
        differences[task] = fair_test.comparisons(scores[task], [0], task, n_boot=50)
    return fair_test.result_record(scores, differences, {"seeds": 1, "epochs": 1, "seasons": (2024,)})


def ablations_chapter(store, data, run):
    """Chapter 7: targeted against random masking (one seed: targeted's run is the main one), and label
    efficiency against the spectra-only baseline that chapter 6 chose."""
    def score(family, key):
        embedded = experiments.embeddings(pretrain(data, masking=family), data[key]["Rrs"].values)
        return ablations.downstream_r2(embedded, data[key], n_repeats=1)

    rows = [{"family": family, "seed": SEED, "task": task, **score(family, key)}
            for family in ("targeted", "random") for task, key in TASKS.items()]
    results = pd.DataFrame(rows)
    previous = store.load("microcystin")
    factors, words = {}, {}
    for task, key in TASKS.items():
        table = data[key]
        y, keep = protocol.table_target(table)
        groups = protocol.table_groups(table)[keep]
        baseline_set = claims.spectra_only_baseline(previous, task)["feature_set"]
        inputs = [experiments.embeddings(run, table["Rrs"].values)[keep],
                  features.feature_matrix(table, baseline_set).to_numpy(float)[keep]]
        inputs = [np.nan_to_num(X[:, ~np.isnan(X).all(0)]) for X in inputs]  # the OCI gap bands
        curves = [label_efficiency.summarise(label_efficiency.learning_curve(
            X, y, groups, ablations.ridge, n_draws=3, n_splits=3, seed=SEED)) for X in inputs]
        factors[task] = label_efficiency.efficiency_factor(*curves, at=0.05)
        words[task] = label_efficiency.describe_factor(*curves, at=0.05)
    store.save("ablations", {
        "targeted_minus_random": {task: ablations.paired_difference(results[results.task == task], "family",
                                                                    "targeted", "random") for task in TASKS},
        "label_efficiency_at_5pct": factors, "label_efficiency_at_5pct_words": words, "heads": []})


def trust_chapter(store, data, run):
    """Chapter 8: CV+ and split-conformal coverage at 90 %, with the baseline chosen by chapter 6."""
    table = data["current"]
    y, keep = protocol.table_target(table)
    groups = protocol.table_groups(table)[keep]
    embedded = experiments.embeddings(run, table["Rrs"].values[keep])
    chosen = claims.spectra_only_baseline(store.load("microcystin"), "current_week")
    reliability = {method: conformal.grouped_reliability(embedded, y, groups, ablations.ridge, (0.9,),
                                                         method=method, n_splits=3, seed=SEED).iloc[0]
                   for method in ("cv+", "split")}
    store.save("trust", {
        "task": "current_week", "samples": int(y.size), "weeks": int(np.unique(groups).size),
        "coverage_90_cvplus": float(reliability["cv+"]["coverage"]),
        "width_90_cvplus": float(reliability["cv+"]["mean_width"]),
        "coverage_90_split": float(reliability["split"]["coverage"]), "baseline": chosen})


@pytest.fixture(scope="module")
def real_flow(tmp_path_factory):
    """Chapters 5-8 on real-format files, in the order the contract gives; returns (store, data, root)."""
    root = tmp_path_factory.mktemp("real-flow")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPECTM_DATA", str(root / "data"))
        patch.setitem(config.SIZES, SHORT_SEASON.name, SHORT_SEASON)
        lay_out_real_files(root / "downloaded-twin")
        data = experiments.lake_erie_data(PROFILE, seed=SEED, source="real")
        run = pretrain(data)
        store = ResultStore(PROFILE, SEED, "real")
        steps = {"05_reconstruction": reconstruction_chapter, "06_microcystin": microcystin_chapter,
                 "07_ablations": ablations_chapter, "08_trust": trust_chapter}
        for chapter in chapter_order():
            if chapter in steps:
                steps[chapter](store, data, run)
        yield store, data, root


@pytest.fixture
def flow(real_flow, monkeypatch):
    """The module's flow, with ``SPECTM_DATA`` pointing at its data again (each test gets its own folder)."""
    monkeypatch.setenv("SPECTM_DATA", str(real_flow[2] / "data"))
    return real_flow


def test_real_results_land_under_real_and_nowhere_else(flow):
    store, _, root = flow
    assert [p.name for p in (root / "data" / "results").iterdir()] == [f"real-{PROFILE}-seed{SEED}"]
    produced = {name for contract in CHAPTER_RESULTS.values() for name in contract["produces"]}
    assert {p.name for p in store.folder.iterdir()} == {f"{name}.json" for name in produced}


def test_later_chapters_read_the_real_microcystin_result(flow):
    store, _, _ = flow
    chosen = claims.spectra_only_baseline(store.load("microcystin"), "current_week")
    assert store.load("trust")["baseline"] == chosen
    assert chosen["feature_set"] == "indices"  # the only spectra-only set of this flow's grid


def test_side_by_side_on_real_data_includes_the_trust_rows(flow):
    store, data, _ = flow
    table = claims.side_by_side(store, data)
    assert "this book (real data, quick)" in table.columns
    trust_claims = set(table.claim[table.claim.str.startswith("90 % interval")])
    assert trust_claims == {"90 % interval (CV+), coverage", "90 % interval (CV+), mean width"}
    samples = table.set_index("claim").loc["matched samples, current week / 8 days ahead", "this book (real data, quick)"]
    assert samples == f"{data['current'].sizes['sample']} / {data['ahead'].sizes['sample']}"


def test_side_by_side_stops_when_chapter_8_has_not_run(flow, tmp_path, monkeypatch):
    store, data, _ = flow
    earlier = {name: store.load(name) for name in ("reconstruction", "microcystin", "ablations", "fair_test")}
    monkeypatch.setenv("SPECTM_DATA", str(tmp_path))  # a fresh results folder without chapter 8's file
    copy = ResultStore(PROFILE, SEED, "real")
    for name, value in earlier.items():
        copy.save(name, value)
    with pytest.raises(FileNotFoundError, match="08_trust"):
        claims.side_by_side(copy, data)


@pytest.mark.slow
def test_chapter_9_executes_on_the_real_results(real_flow, tmp_path, monkeypatch):
    """The side-by-side notebook itself, executed with ``source = "real"`` on the results above."""
    jupytext = pytest.importorskip("jupytext")
    papermill = pytest.importorskip("papermill")
    import nbformat

    _, _, root = real_flow
    monkeypatch.setenv("SPECTM_DATA", str(root / "data"))
    source = paths.__file__.replace("spectm/paths.py", "book/notebooks/09_side_by_side.md")
    notebook = jupytext.read(source, fmt="md:myst")
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "in.ipynb")
    papermill.execute_notebook(str(tmp_path / "in.ipynb"), str(tmp_path / "out.ipynb"),
                               parameters={"profile": PROFILE, "source": "real"}, kernel_name="python3",
                               cwd=str(tmp_path), progress_bar=False, execution_timeout=300)
    executed = (tmp_path / "out.ipynb").read_text()
    assert "this book (real data, quick)" in executed and "90 % interval (CV+), coverage" in executed
    assert "targeted - random masking, current week" in executed  # the verdict table
