"""The test-wide data folder guard: every test gets its own empty ``SPECTM_DATA``, never the checkout's."""

import os
from pathlib import Path

import pytest

import spectm
from spectm import paths

CHECKOUT = Path(spectm.__file__).resolve().parent.parent


@pytest.mark.parametrize("marker", ["first", "second"])
def test_each_test_starts_with_its_own_empty_data_folder(marker):
    root = paths.data_dir()
    assert root == Path(os.environ["SPECTM_DATA"])
    assert not root.resolve().is_relative_to(CHECKOUT)
    assert list(root.iterdir()) == []  # whichever test runs second would see the other's marker otherwise
    (root / marker).write_text(marker)


def test_twin_and_real_folders_follow_the_data_folder():
    root = Path(os.environ["SPECTM_DATA"])
    assert paths.twin_dir("quick", 0).is_relative_to(root)
    assert paths.real_dir().is_relative_to(root)


def test_property_tests_have_no_deadline_and_write_no_database():
    from hypothesis import settings

    assert settings.default.deadline is None  # timing on a loaded machine must not fail a test
    assert settings.default.database is None  # nothing written to .hypothesis/ in the checkout
    assert settings.default.derandomize  # the same examples on every run


def test_hypothesis_storage_is_outside_the_checkout():
    from hypothesis.configuration import storage_directory

    assert not storage_directory("constants", intent_to_write=False).path.resolve().is_relative_to(CHECKOUT)
