"""The one profile table: every key of every profile is read, derived profiles are checked, errors name
names."""

import ast
import copy
from pathlib import Path

import pytest

from spectm import book, fair_test, profiles, train
from spectm.evaluate import ablations, baselines, features
from spectm.model import model_config
from spectm.twin import config as twin_config

ROOT = Path(__file__).resolve().parents[1]


class Recording(dict):
    """A profile section that notes each key read through it, and hands its notebook on to its copies.

    ``__iter__`` is defined so that ``{**section}``, ``f(**section)`` and ``dict(section)`` go through
    ``__getitem__`` (CPython takes a fast path that skips it for dicts that keep ``dict.__iter__``)."""

    def __init__(self, values, path, seen):
        super().__init__(values)
        self.path, self.seen = path, seen

    def __getitem__(self, key):
        self.seen.add(f"{self.path}{key}")
        return super().__getitem__(key)

    def get(self, key, default=None):
        return self[key] if key in self else default

    def __iter__(self):
        return super().__iter__()

    def __deepcopy__(self, memo):
        values = {key: copy.deepcopy(dict.__getitem__(self, key), memo) for key in dict.keys(self)}
        return Recording(values, self.path, self.seen)


def recording(profile: dict, seen: set) -> Recording:
    sections = {name: Recording(section, f"{name}.", seen) for name, section in profile.items()}
    return Recording(sections, "", seen)


def every_key(profile: dict) -> set[str]:
    return {name for name in profile} | {f"{name}.{key}" for name, section in profile.items() for key in section}


def build_every_config(name: str) -> None:
    """What the package builds from a profile: each section through the one function that reads it."""
    model_config(name)
    train.resolve_config(profile=name)
    twin_config.get_size(profiles.get_profile(name)["twin"]["name"])
    ablations.ablation_budget(name)
    baselines.protocol_settings(name)
    for algorithm in baselines.algorithms(name):
        baselines.param_grid(algorithm, name)
    features.feature_sets(name)
    fair_test.fair_budget(name)
    book.cell_timeout(name)


@pytest.mark.parametrize("name", sorted(profiles.PROFILES))
def test_every_key_of_every_profile_is_read(name, monkeypatch):
    seen: set[str] = set()
    monkeypatch.setitem(profiles.PROFILES, name, recording(profiles.PROFILES[name], seen))
    build_every_config(name)
    assert every_key(profiles.PROFILES[name]) - seen == set()


def test_the_recording_notices_a_key_nobody_reads(monkeypatch):
    seen: set[str] = set()
    unread = profiles.derive(profiles.PROFILES["quick"])
    unread["fair"]["colour"] = "blue"  # a value no function reads
    monkeypatch.setitem(profiles.PROFILES, "quick", recording(unread, seen))
    build_every_config("quick")
    assert every_key(unread) - seen == {"fair.colour"}


def _keys_train_reads() -> set[str]:
    tree = ast.parse((ROOT / "spectm" / "train.py").read_text())
    return {node.slice.value for node in ast.walk(tree)
            if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "config"
            and isinstance(node.slice, ast.Constant)}  # fmt: skip


@pytest.mark.parametrize("name", sorted(profiles.PROFILES))
def test_the_training_loop_reads_every_training_key(name):
    """resolve_config copies the section whole; the loop itself must then read each key as
    config[key]."""
    assert set(profiles.PROFILES[name]["training"]) - _keys_train_reads() == set()


def test_profiles_that_share_a_twin_size_share_its_values():
    by_name: dict[str, dict] = {}
    for profile in profiles.PROFILES.values():
        twin = profile["twin"]
        assert by_name.setdefault(twin["name"], twin) == twin, twin["name"]


def test_a_derived_profile_changes_only_what_it_names():
    base = profiles.PROFILES["quick"]
    study = profiles.derive(base, fair={"seeds": 5}, training={"epochs": 20})
    assert study["fair"]["seeds"] == 5 and study["training"]["epochs"] == 20
    assert study["fair"]["seasons"] == base["fair"]["seasons"] and study["model"] == base["model"]
    assert base["fair"]["seeds"] == 1 and base["training"]["epochs"] == 4  # the base is untouched
    with pytest.raises(ValueError, match="fiar"):
        profiles.derive(base, fiar={"seeds": 5})
    with pytest.raises(ValueError, match="sedes"):
        profiles.derive(base, fair={"sedes": 5})


def test_a_copy_of_a_profile_cannot_change_the_table():
    copy_ = profiles.get_profile("quick")
    copy_["baselines"]["grids"]["ridge"]["alpha"].append(0.5)
    assert profiles.PROFILES["quick"]["baselines"]["grids"]["ridge"]["alpha"] == [1.0, 10.0, 100.0]


def test_unknown_names_are_errors_that_list_the_known_ones():
    for build in (profiles.get_profile, model_config, features.feature_sets, baselines.algorithms,
                  fair_test.fair_budget, ablations.ablation_budget):  # fmt: skip
        with pytest.raises(ValueError, match="quick"):
            build("huge")
    with pytest.raises(ValueError, match="lasso.*ridge"):
        baselines.param_grid("lasso", "quick")
    with pytest.raises(ValueError, match="learnig_rate"):
        train.resolve_config(profile="quick", learnig_rate=1e-3)


def test_the_paper_profile_reads_the_paper():
    from spectm.paper import LOSS_WEIGHTS, PAPER

    paper = profiles.PROFILES["paper"]
    assert paper["model"]["n_layers"] == PAPER["encoder_layers"].value
    assert paper["training"]["learning_rate"] == PAPER["learning_rate"].value
    assert paper["training"]["loss_weights"] == tuple(LOSS_WEIGHTS.values())
    assert baselines.count_configurations("paper")["total"] == PAPER["baseline_configurations"].value
