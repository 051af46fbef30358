"""The provenance line every chapter shows: each value is the real one, not merely present."""

import datetime as dt
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import pytest

import spectm
from spectm.provenance import git_commit, provenance

CHECKOUT = Path(spectm.__file__).resolve().parent.parent


def _git(cwd, *args) -> str:
    command = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    _git(tmp_path, "init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    _git(tmp_path, "add", "code.py")
    _git(tmp_path, "commit", "-q", "-m", "first")
    return tmp_path


def test_provenance_names_profile_seed_source_version_and_commit():
    before = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0, tzinfo=None)
    record = provenance("paper", seed=7, source="real")
    after = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    assert record["profile"] == "paper" and record["seed"] == "7" and record["data source"] == "real"
    assert record["spectm"] == spectm.__version__
    assert record["python"] == platform.python_version()
    assert record["torch"] == metadata.version("torch") and record["numpy"] == metadata.version("numpy")
    head = _git(CHECKOUT, "rev-parse", "--short=12", "HEAD")
    assert record["git commit"].removesuffix("+dirty") == head
    assert before <= dt.datetime.strptime(record["executed (UTC)"], "%Y-%m-%d %H:%M") <= after
    page = record._repr_html_()
    assert page.startswith("<details>") and "profile paper" in page
    assert f"git commit {record['git commit']}" in page
    assert "seed 7" in record.summary() and "data source real" in record.summary()
    assert "profile" in repr(record) and "paper" in repr(record)


def test_seed_defaults_to_not_applicable():
    assert provenance("quick")["seed"] == "n/a"
    assert provenance("quick")["data source"] == "twin"


def test_git_commit_is_the_head_and_marks_uncommitted_changes(repo):
    head = _git(repo, "rev-parse", "--short=12", "HEAD")
    assert git_commit(repo) == head
    (repo / "code.py").write_text("x = 2\n")
    assert git_commit(repo) == head + "+dirty"
    (repo / "untracked.py").write_text("")
    _git(repo, "checkout", "--", "code.py")
    assert git_commit(repo) == head  # untracked files do not make a checkout dirty


def test_git_commit_outside_a_checkout_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))  # even if tmp lies inside a checkout
    assert git_commit(tmp_path) == "unknown (not a git checkout)"


def test_provenance_escapes_html_in_values():
    page = provenance("<script>", source="a&b")._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page and "a&amp;b" in page
