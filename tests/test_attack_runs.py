"""Attacks on long runs: a finished run entered again, a log that lost lines, a lock left by a killed
process, Ctrl-C in ``spectm pretrain``, a folder it may not write, a damaged summary. Each either resumes
exactly or is refused in one sentence that names the folder; nothing is silently lost or mixed."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import warnings

import numpy as np
import pytest

import spectm
from spectm import checkpoint as ckpt
from spectm import experiments
from spectm.datasets import synthetic_spectra
from spectm.train import resolve_config, train
from tests.test_train import data  # noqa: F401 (a fixture)
from tests.test_train import TINY_MODEL, Crash, hold_lock, same_run, tiny_config

pytestmark = pytest.mark.usefixtures("one_thread")


def child_env() -> dict:
    root = os.path.dirname(os.path.dirname(spectm.__file__))
    return {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]),
            "OMP_NUM_THREADS": "1"}


def test_a_finished_run_entered_again_reports_its_validation_and_whole_time(data, tmp_path):
    """A run killed after training but before its summary was stored is entered again: its summary must
    be the finished run's (validation losses, all steps over all the time trained), not an empty piece."""
    first = train(tiny_config(), *data, tmp_path)
    trained_for = ckpt.load_checkpoint(tmp_path).get("elapsed_s", 0.0)
    again = train(tiny_config(), *data, tmp_path)
    assert again["resumed_from_step"] == first["steps"] == again["steps"]
    assert again["val"] == first["val"] and set(first["val"]) >= {"loss", "reconstruction"}
    assert again["seconds"] >= trained_for > 0 and again["samples_per_second"] > 0


def test_a_metrics_log_that_lost_records_is_refused_not_resumed(data, tmp_path):
    train(tiny_config(max_steps=6), data[0], None, tmp_path)
    log = tmp_path / "metrics.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:2]))  # a copy cut short: steps 3..6 are gone
    refusal = rf"{re.escape(str(log))} lost records written before the checkpoint at step 6"
    with pytest.raises(ckpt.ResumeError, match=refusal):
        train(tiny_config(max_steps=6), data[0], None, tmp_path)
    log.write_text("")  # emptied
    with pytest.raises(ckpt.ResumeError, match=refusal):
        train(tiny_config(max_steps=6), data[0], None, tmp_path)
    assert train(tiny_config(max_steps=6, resume=False), data[0], None, tmp_path)["steps"] == 6  # if asked
    assert len(log.read_text().splitlines()) == len(lines)


def test_a_lock_left_by_a_killed_process_is_taken_over_with_a_warning(tmp_path):
    holder = hold_lock(tmp_path)
    holder.send_signal(signal.SIGKILL)  # dies holding the folder
    holder.wait()
    with pytest.warns(UserWarning, match=rf"{re.escape(str(tmp_path))} was left locked by pid {holder.pid}"):
        with ckpt.run_lock(tmp_path):
            pass
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # released cleanly: the next holder takes it without a word
        with ckpt.run_lock(tmp_path):
            pass


INTERRUPTED = """import os, signal, sys
import spectm.train
real_step, count = spectm.train.train_step, [0]
def step_then_ctrl_c(*args, **kwargs):
    result = real_step(*args, **kwargs)
    count[0] += 1
    if count[0] == int(sys.argv[1]):
        os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C in a terminal
    return result
spectm.train.train_step = step_then_ctrl_c
from spectm.pretrain import main
sys.exit(main(sys.argv[2:]))
"""


def pretrain_argv(table, run) -> list[str]:
    spectra = synthetic_spectra(160, seed=3, n_dates=5)
    np.savez(table, Rrs=spectra["Rrs"], time=spectra["time"])
    return ["--data", str(table), "--out", str(run), "--set", "max_steps=8", "--set", "progress=False",
            "--set", "batch_size=16", "--set", "checkpoint_every=4", "--set", f"model={TINY_MODEL!r}"]


def test_ctrl_c_in_pretrain_is_one_line_and_the_next_start_resumes(tmp_path, capsys):
    from spectm.pretrain import main

    run = tmp_path / "a run"  # a path with a space
    argv = pretrain_argv(tmp_path / "pixels table.npz", run)
    child = subprocess.run([sys.executable, "-c", INTERRUPTED, "6", *argv], capture_output=True, text=True,
                           env=child_env(), timeout=600)
    assert child.returncode == 130, child.stderr
    assert child.stderr.strip().splitlines() == [
        f"spectm pretrain: interrupted; {run} keeps the last checkpoint, the same command resumes from it"]
    assert not list(run.glob(".tmp-*")) and ckpt.load_checkpoint(run)["step"] == 4
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["resumed_from_step"] == 4 and summary["steps"] == 8


def test_a_run_folder_it_may_not_write_is_one_clear_refusal(tmp_path, capsys, monkeypatch):
    """As root a chmod does not stop writes, so the file system's answer is played by ``open``."""
    from spectm.pretrain import main

    argv = pretrain_argv(tmp_path / "table.npz", tmp_path / "run")

    def read_only(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(ckpt, "open", read_only, raising=False)  # the lock file is the first write
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "Permission denied" in err and "run.lock" in err and len(err.splitlines()) == 1


def test_a_damaged_summary_is_written_again_from_the_finished_checkpoint(data, tmp_path, monkeypatch):
    monkeypatch.setenv("SPECTM_DATA", str(tmp_path / "data"))
    table = experiments.xr.Dataset({"Rrs": (("pixel", "wavelength"), np.ones((2, 3)))})
    config = resolve_config(tiny_config())
    run = experiments.pretrain(table, config, *data, device="cpu")
    original = json.loads((run / "summary.json").read_text())
    assert original["val"]
    text = (run / "summary.json").read_text()
    (run / "summary.json").write_text(text[: len(text) // 2])  # cut short
    with pytest.warns(UserWarning, match=rf"{re.escape(str(run / 'summary.json'))} is damaged"):
        assert experiments.pretrain(table, config, *data, device="cpu") == run
    rebuilt = json.loads((run / "summary.json").read_text())
    assert rebuilt["steps"] == original["steps"] and rebuilt["val"] == original["val"]


def test_starting_over_leaves_no_checkpoint_a_later_resume_could_mix_in(data, tmp_path):
    """A finished run, then ``resume=False`` killed before its first checkpoint, then a plain start: the
    plain start must not resume the earlier run's checkpoint under the new run's log."""
    config = tiny_config(masking="random")
    whole = train(config, *data, tmp_path / "whole")
    train(config, *data, tmp_path / "run")

    def crash(state):
        if state["step"] == 2:
            raise Crash("killed")

    with pytest.raises(Crash):
        train({**config, "resume": False}, *data, tmp_path / "run", callback=crash)
    again = train(config, *data, tmp_path / "run")
    assert again["resumed_from_step"] is None and again["steps"] == whole["steps"]
    assert same_run(tmp_path / "whole", tmp_path / "run")


def test_undecodable_bytes_in_a_metrics_log_name_the_line(tmp_path):
    from spectm.data.errors import DataFormatError

    log = tmp_path / "metrics.jsonl"
    log.write_bytes(b'{"kind": "step", "step": 1}\n\xff\xfe\x00 bad block\n{"kind": "step", "step": 2}\n')
    with pytest.raises(DataFormatError, match=rf"{re.escape(str(log))}.*line 2"):
        experiments.metrics(tmp_path)


def test_an_output_folder_that_is_a_file_is_one_clear_refusal(tmp_path, capsys):
    from spectm.pretrain import main

    argv = pretrain_argv(tmp_path / "table.npz", tmp_path / "run")
    (tmp_path / "run").write_text("not a folder")
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert str(tmp_path / "run") in err and len(err.splitlines()) == 1


HOLDER_WITH_WORKER = """import os, sys
from spectm.checkpoint import run_lock
with run_lock(sys.argv[1]):
    worker = os.fork()  # as a DataLoader worker: forked while the run holds its folder
    if worker == 0:
        sys.stdin.read()
        os._exit(0)
    print(worker, flush=True)
    sys.stdin.read()
"""


def test_a_forked_worker_that_outlives_its_killed_run_does_not_hold_the_folder(tmp_path):
    """kill -9 of a run with DataLoader workers: the workers live on a few seconds and, holding a copy of
    the lock's file, kept the folder 'in use by' the dead run; a restart must get it at once."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER_WITH_WORKER, str(tmp_path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=child_env())
    worker = int(holder.stdout.readline())
    try:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        os.kill(worker, 0)  # the worker is still alive
        with pytest.warns(UserWarning, match=f"left locked by pid {holder.pid}"):
            with ckpt.run_lock(tmp_path):
                pass
    finally:
        os.kill(worker, signal.SIGKILL)


def test_a_resume_under_another_thread_count_is_said_not_silent(data, tmp_path):
    """More threads sum a GEMM in another order: the resumed run goes on, but it is not bit-identical to an
    uninterrupted one, and a warning says so (same count: no word)."""
    import torch

    train(tiny_config(max_steps=2), data[0], None, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train(tiny_config(max_steps=3), data[0], None, tmp_path / "other")
        train(tiny_config(max_steps=3), data[0], None, tmp_path / "other")
    before = torch.get_num_threads()
    torch.set_num_threads(before + 1)
    try:
        with pytest.warns(UserWarning, match=rf"{re.escape(str(tmp_path))} resumes under other numerics "
                                             rf"\(threads {before} there, {before + 1} now\)"):
            train(tiny_config(max_steps=2), data[0], None, tmp_path)
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("args, expected", [
    (["--set", "bogus=1"], "unknown training config keys ['bogus']"),
    (["--set", "epochs=-1"], "epochs=-1 (must be a whole number >= 1)"),
    (["--set", "epochs=abc"], "epochs='abc' (must be a whole number >= 1)"),
    (["--set", "batch_size=0"], "batch_size=0 (must be a whole number >= 1)"),
    (["--set", "learning_rate=-1"], "learning_rate=-1 (must be a number > 0)"),
    (["--set", "loss_weights=(1.0, 0.5)"], "loss_weights=[1.0, 0.5] (must be three numbers >= 0"),
])
def test_spectm_pretrain_refuses_a_setting_no_run_can_use_in_one_line(tmp_path, capsys, args, expected):
    """Before: a traceback (unknown key, batch 0, lr < 0, epochs='abc') or exit 0 after no step."""
    from spectm import pretrain

    out = tmp_path / "run"
    assert pretrain.main(["--data", "synthetic", "--synthetic-size", "64", "--out", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("spectm pretrain: ") and expected in err and err.count("\n") == 1
    assert not out.exists()  # refused before anything was written


@pytest.mark.parametrize("args", [["--val-fraction", "1.5"], ["--val-fraction", "-0.1"],
                                  ["--synthetic-size", "0"]])
def test_spectm_pretrain_refuses_an_impossible_split_or_size_as_a_usage_error(tmp_path, capsys, args):
    from spectm import pretrain

    with pytest.raises(SystemExit) as exit_info:
        pretrain.main(["--data", "synthetic", "--out", str(tmp_path / "run"), *args])
    assert exit_info.value.code == 2 and f"argument {args[0]}: " in capsys.readouterr().err


def test_every_profile_passes_the_value_checks():
    from spectm.profiles import PROFILES

    for name in PROFILES:
        assert resolve_config(profile=name)["profile"] == name
