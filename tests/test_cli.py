"""The command line: offline, `spectm fetch` fails at once with one clear sentence; `spectm bands` prints D."""

import time

from spectm import cli


def test_bands_prints_28_on_the_model_grid(capsys):
    assert cli.main(["bands"]) == 0
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("paper122"))
    assert line.split()[-2:] == ["28", "9"]


def test_fetch_offline_says_why_in_one_sentence(capsys, tmp_path):
    start = time.monotonic()
    assert cli.main(["fetch", "pace", "--out", str(tmp_path)]) == 2
    assert time.monotonic() - start < 10
    err = capsys.readouterr().err.strip()
    assert err.startswith("Cannot reach") and err.count(". ") == 0
    assert not any(tmp_path.iterdir())


def test_fetch_gridmet_offline(capsys, tmp_path):
    assert cli.main(["fetch", "gridmet", "--out", str(tmp_path)]) == 2
    assert "Cannot reach" in capsys.readouterr().err
