"""The pretraining loop: it learns, resumes bit-identically, agrees across DDP ranks and saves safely."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import spectm
from spectm import checkpoint as ckpt
from spectm.datasets import PixelSpectra, split_by_date, synthetic_spectra
from spectm.masking import make_mask
from spectm.train import epoch_batches, get_lr, load_pretrained, resolve_config, train

TINY_MODEL = {"n_layers": 1, "width": 32, "n_heads": 2, "decoder_width": 32, "decoder_depth": 1,
              "decoder_heads": 2, "n_wavelength_frequencies": 8}


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_config(**overrides) -> dict:
    return {"profile": "quick", "model": dict(TINY_MODEL), "batch_size": 32, "epochs": 2,
            "learning_rate": 3e-3, "checkpoint_every": 3, "progress": False, **overrides}



@pytest.fixture(scope="module")
def data():
    table = synthetic_spectra(320, seed=1, n_dates=10)
    pixels = PixelSpectra(table["Rrs"], table["time"], table["future"])
    train_rows, val_rows = split_by_date(pixels.time, 0.2, seed=0)
    return pixels.subset(train_rows), pixels.subset(val_rows)


def read_log(out_dir):
    return [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]


class Crash(RuntimeError):
    pass


def test_loss_decreases_on_synthetic_spectra(data, tmp_path):
    train_data, val_data = data
    summary = train(tiny_config(epochs=5, masking="random"), train_data, val_data, tmp_path)
    losses = [r["loss"] for r in read_log(tmp_path) if r["kind"] == "step"]
    assert summary["steps"] == len(losses) >= 30
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.6 * first, (first, last)
    epochs = [r for r in read_log(tmp_path) if r["kind"] == "epoch"]
    assert epochs[-1]["val_loss"] < epochs[0]["val_loss"]


def test_killed_run_resumes_to_identical_weights(data, tmp_path):
    """Crash mid epoch 1, resume from the last checkpoint (also mid epoch 1): the same weights, optimizer
    state and metrics as one uninterrupted run. Dropout is on, so the global RNG state must come back too."""
    train_data, val_data = data
    per_epoch = len(epoch_batches(len(train_data), 32, 0, 0))
    every, crash_at = 4, per_epoch + 5  # checkpoints every 4 steps and at the end of each epoch
    last_saved = crash_at // every * every
    assert per_epoch < last_saved < crash_at < 2 * per_epoch  # both mid epoch 1
    config = tiny_config(masking="random", model={**TINY_MODEL, "dropout": 0.1}, checkpoint_every=every)

    whole = train(config, train_data, val_data, tmp_path / "whole")

    def crash(state):
        if state["step"] == crash_at:
            raise Crash("killed")

    with pytest.raises(Crash):
        train(config, train_data, val_data, tmp_path / "split", callback=crash)
    assert ckpt.load_checkpoint(tmp_path / "split")["step"] == last_saved
    resumed = train(config, train_data, val_data, tmp_path / "split")
    assert resumed["resumed_from_step"] == last_saved and resumed["steps"] == whole["steps"] == 2 * per_epoch

    a, b = ckpt.load_checkpoint(tmp_path / "whole"), ckpt.load_checkpoint(tmp_path / "split")
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert all(torch.equal(sa[k], sb[k]) for k in sa)

    def without_time(records):
        return [{k: v for k, v in r.items() if k != "elapsed_s"} for r in records]

    assert without_time(read_log(tmp_path / "whole")) == without_time(read_log(tmp_path / "split"))


def test_resume_refuses_a_different_config(data, tmp_path):
    train_data, _ = data
    train(tiny_config(max_steps=2), train_data, None, tmp_path)
    with pytest.raises(ValueError, match="learning_rate"):
        train(tiny_config(max_steps=2, learning_rate=1e-4), train_data, None, tmp_path)


def _ddp_worker(rank, world_size, store, out_dir, table):
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size),
                      GLOO_SOCKET_IFNAME="lo")
    torch.set_num_threads(1)
    # A file rendezvous: no port chosen by one process and bound later by another (that races)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world_size)
    pixels = PixelSpectra(table["Rrs"], table["time"], table["future"])
    seen = {}

    def remember(state):
        seen["model"] = state["model"]
        seen.setdefault("first_loss", state["local_loss"])

    try:
        train(tiny_config(masking="random", epochs=1, max_steps=4), pixels, None, out_dir, callback=remember)
    finally:
        dist.destroy_process_group()
    torch.save({"weights": seen["model"].state_dict(), "first_loss": seen["first_loss"]},
               os.path.join(out_dir, f"rank{rank}.pt"))


def test_two_gloo_ranks_end_with_identical_weights(tmp_path):
    table = {k: v for k, v in synthetic_spectra(256, seed=2).items() if k in ("Rrs", "time", "future")}
    out = tmp_path / "run"
    mp.start_processes(_ddp_worker, args=(2, str(tmp_path / "store"), str(out), table), nprocs=2, join=True,
                       start_method="spawn")
    r0, r1 = (torch.load(out / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert r0["first_loss"] != r1["first_loss"]  # each rank trained on its own shard...
    for name, tensor in r0["weights"].items():  # ...yet the averaged gradients keep them in lockstep
        assert torch.equal(tensor, r1["weights"][name]), name
    saved = ckpt.load_checkpoint(out)
    assert saved["step"] == 4 and saved["config"]["batch_size"] == 32
    assert torch.equal(saved["model"]["index_head.weight"], r0["weights"]["index_head.weight"])


def test_ddp_test_binds_no_port_of_its_own():
    """The old helper bound a free port, released it and let gloo bind it later: another process could
    take it in between. The test now rendezvouses through a file."""
    import inspect

    functions = (_ddp_worker, test_two_gloo_ranks_end_with_identical_weights)
    source = "".join(inspect.getsource(f) for f in functions)
    assert "MASTER_PORT" not in source and "file://" in source


def test_epoch_batches_split_the_permutation_between_ranks():
    ranks = [torch.cat(epoch_batches(103, 8, seed=5, epoch=3, rank=r, world_size=2)) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == 51
    assert not set(ranks[0].tolist()) & set(ranks[1].tolist())
    again = torch.cat(epoch_batches(103, 8, seed=5, epoch=3, rank=0, world_size=2))
    other_epoch = torch.cat(epoch_batches(103, 8, seed=5, epoch=4, rank=0, world_size=2))
    assert torch.equal(ranks[0], again) and not torch.equal(ranks[0], other_epoch)


def test_get_lr_warms_up_then_follows_the_cosine():
    lr = dict(learning_rate=1e-3, warmup_steps=10, total_steps=110, min_lr=1e-4)
    assert get_lr(0, **lr) == pytest.approx(1e-4)  # 1/10 of the way up
    assert get_lr(9, **lr) == pytest.approx(1e-3)
    assert get_lr(10, **lr) == pytest.approx(1e-3)
    assert get_lr(60, **lr) == pytest.approx(1e-4 + 0.5 * (1e-3 - 1e-4))  # half way: cos(pi/2) = 0
    assert get_lr(110, **lr) == pytest.approx(1e-4)
    tail = [get_lr(s, **lr) for s in range(10, 111)]
    assert all(a >= b for a, b in zip(tail, tail[1:]))


def test_metrics_log_has_one_line_per_step_and_per_epoch(data, tmp_path):
    train_data, val_data = data
    summary = train(tiny_config(epochs=2), train_data, val_data, tmp_path)
    records = read_log(tmp_path)
    steps = [r for r in records if r["kind"] == "step"]
    epochs = [r for r in records if r["kind"] == "epoch"]
    assert [r["step"] for r in steps] == list(range(1, summary["steps"] + 1))
    assert [r["epoch"] for r in epochs] == [0, 1]
    total, warmup = summary["total_steps"], round(0.05 * summary["total_steps"])
    for r in steps:
        assert r["lr"] == pytest.approx(get_lr(r["step"] - 1, 3e-3, warmup, total, 3e-4))
        assert {"loss", "reconstruction", "indices", "temporal", "grad_norm"} <= set(r)
        expected = r["reconstruction"] + 0.5 * r["indices"] + 0.3 * r["temporal"]
        assert r["loss"] == pytest.approx(expected, rel=1e-5)
    for r in epochs:
        assert {"train_loss", "val_loss", "val_reconstruction", "val_indices", "val_temporal"} <= set(r)
        assert math.isfinite(r["val_loss"])


def test_load_pretrained_gives_the_trained_model(data, tmp_path):
    train_data, val_data = data
    kept = {}
    train(tiny_config(max_steps=5), train_data, None, tmp_path,
          callback=lambda state: kept.update(model=state["model"]))
    trained = kept["model"].eval()
    loaded = load_pretrained(tmp_path / "checkpoint.pt")
    assert not loaded.training and loaded.band_grid == "paper122"
    assert torch.equal(loaded.wavelengths, torch.tensor(train_data.wavelengths, dtype=torch.float32))
    assert loaded.index_standardization == train_data.index_statistics()
    assert not torch.equal(loaded.normalizer.std, torch.ones(122))  # fitted, not the identity
    batch = val_data[torch.arange(16)]
    mask = make_mask("random", train_data.wavelengths, 16, torch.Generator().manual_seed(0))
    a = trained(batch["values"], loaded.wavelengths, mask, batch["observed"])
    b = loaded(batch["values"], loaded.wavelengths, mask, batch["observed"])
    for name in ("reconstruction", "future", "indices", "embedding"):
        assert torch.equal(a[name], b[name]), name
    assert torch.equal(trained.embed(batch["values"], loaded.wavelengths),
                       loaded.embed(batch["values"], loaded.wavelengths))


def _leaves(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


def test_checkpoint_loads_with_weights_only_and_holds_plain_types(data, tmp_path):
    train_data, _ = data
    train(tiny_config(max_steps=3, masking="grouped", n_groups=4), train_data, None, tmp_path)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    plain = (torch.Tensor, int, float, str, bool, type(None))
    assert all(isinstance(leaf, plain) for leaf in _leaves(state))
    assert state["finished"] and state["step"] == 3
    assert state["code_version"]["spectm"] == "0.1.0"
    assert state["index_standardization"]["names"][0] == "ci"
    assert len(state["masking_groups"]) == 122 and max(state["masking_groups"]) == 3
    assert state["normalization"]["std"] == state["model"]["normalizer.std"].tolist()


def test_failed_save_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    ckpt.save_atomic({"format": ckpt.FORMAT, "step": 1}, path)

    def dies_half_way(obj, f, *args, **kwargs):  # f: the temporary's path (spectm.atomic)
        with open(f, "wb") as handle:
            handle.write(b"partial bytes")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", dies_half_way)
    with pytest.raises(OSError, match="disk full"):
        ckpt.save_atomic({"format": ckpt.FORMAT, "step": 2}, path)
    monkeypatch.undo()
    assert ckpt.load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]  # no temporary file left behind


def test_config_rejects_unknown_keys_and_takes_profile_values():
    with pytest.raises(ValueError, match="learnig_rate"):
        resolve_config({"learnig_rate": 1e-3})
    paper = resolve_config({"profile": "paper"})
    assert paper["learning_rate"] == 1e-4 and paper["epochs"] == 100
    assert paper["loss_weights"] == [1.0, 0.5, 0.3]
    assert resolve_config({"profile": "paper", "epochs": 1})["epochs"] == 1


def test_command_line_trains_on_synthetic_data(tmp_path, capsys):
    from spectm.pretrain import main

    argv = ["--profile", "quick", "--masking", "random_spans", "--data", "synthetic",
            "--synthetic-size", "200", "--out", str(tmp_path), "--set", "max_steps=2",
            "--set", "progress=False", "--set", "batch_size=32", "--set", f"model={TINY_MODEL!r}"]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps"] == 2 and summary["resumed_from_step"] is None
    saved = ckpt.load_checkpoint(tmp_path)
    assert saved["config"]["masking"] == "random_spans" and saved["finished"]


# --- Runs that refuse to mix: other data or code, two processes, damaged checkpoints, torn logs ---

RESUME_EVERY = 4


def resume_config() -> dict:
    return tiny_config(masking="random", model={**TINY_MODEL, "dropout": 0.1}, checkpoint_every=RESUME_EVERY)


@pytest.fixture(scope="module")
def whole_run(data, tmp_path_factory):
    """One uninterrupted run of :func:`resume_config`: what every interrupted run must reproduce."""
    out = tmp_path_factory.mktemp("whole")
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train(resume_config(), *data, out)
    finally:
        torch.set_num_threads(previous)
    return out


def crash_at(config, data, out, step):
    def crash(state):
        if state["step"] == step:
            raise Crash("killed")

    with pytest.raises(Crash):
        train(config, *data, out, callback=crash)


def same_run(a, b) -> bool:
    """Same final weights and the same metrics log (but the wall-clock times)."""
    wa, wb = ckpt.load_checkpoint(a)["model"], ckpt.load_checkpoint(b)["model"]
    logs = [[{k: v for k, v in r.items() if k != "elapsed_s"} for r in read_log(out)] for out in (a, b)]
    return all(torch.equal(wa[name], wb[name]) for name in wa) and logs[0] == logs[1]


def test_resume_refuses_other_training_data(data, tmp_path):
    train_data, val_data = data
    train(tiny_config(max_steps=2), train_data, val_data, tmp_path)
    shifted = PixelSpectra(train_data.values.numpy() * 1.01, train_data.time, train_data.future.numpy())
    refusal = rf"{re.escape(str(tmp_path))} was trained on other training data"
    with pytest.raises(ckpt.ResumeError, match=refusal):
        train(tiny_config(max_steps=2), shifted, val_data, tmp_path)
    with pytest.raises(ckpt.ResumeError, match="training data"):  # the validation split counts too
        train(tiny_config(max_steps=2), train_data, None, tmp_path)
    assert ckpt.load_checkpoint(tmp_path)["step"] == 2  # untouched


def test_resume_refuses_other_code(data, tmp_path, monkeypatch):
    train_data, _ = data
    train(tiny_config(max_steps=2), train_data, None, tmp_path)
    monkeypatch.setattr("spectm.train.source_fingerprint", lambda: "edited-source")
    with pytest.raises(ckpt.ResumeError, match="other spectm source code"):
        train(tiny_config(max_steps=2), train_data, None, tmp_path)
    assert train(tiny_config(max_steps=4, resume=False), train_data, None, tmp_path)["steps"] == 4


def test_command_line_refuses_to_resume_on_other_data(tmp_path, capsys):
    from spectm.cli import main

    def pretrain(size):
        return main(["pretrain", "--data", "synthetic", "--synthetic-size", str(size), "--out", str(tmp_path),
                     "--set", "max_steps=2", "--set", "progress=False", "--set", "batch_size=32",
                     "--set", f"model={TINY_MODEL!r}"])

    assert pretrain(200) == 0
    capsys.readouterr()
    assert pretrain(240) == 2
    err = capsys.readouterr().err.strip()
    assert str(tmp_path) in err and "other training data" in err and len(err.splitlines()) == 1


HOLDER = """import sys
from spectm.checkpoint import run_lock
with run_lock(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.read()
"""


def hold_lock(folder) -> subprocess.Popen:
    """Another process holding the run folder's lock; returns once it holds it."""
    root = os.path.dirname(os.path.dirname(spectm.__file__))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=env)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_process_is_refused_while_a_run_holds_the_folder(data, tmp_path):
    train_data, _ = data
    holder = hold_lock(tmp_path)
    try:
        refusal = rf"{re.escape(str(tmp_path))} is in use .*pid {holder.pid}\)"
        with pytest.raises(ckpt.RunInUseError, match=refusal):
            train(tiny_config(max_steps=2), train_data, None, tmp_path)
        assert not (tmp_path / "metrics.jsonl").exists() and not (tmp_path / "checkpoint.pt").exists()
    finally:
        holder.kill()  # dies without cleaning up: its lock file stays, its lock goes
        holder.wait()
    assert (tmp_path / "run.lock").exists()
    with pytest.warns(UserWarning, match=f"left locked by pid {holder.pid}"):  # taken over, and said so
        assert train(tiny_config(max_steps=2), train_data, None, tmp_path)["steps"] == 2


def test_lock_is_released_on_error_and_reentrant_in_one_process(tmp_path):
    with ckpt.run_lock(tmp_path):
        with ckpt.run_lock(tmp_path):  # experiments.pretrain holds it around train()
            pass
        with pytest.raises(ckpt.RunInUseError):  # another open file description: another holder
            import fcntl
            with open(tmp_path / "run.lock") as other:
                try:
                    fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise ckpt.RunInUseError("held") from None
    with pytest.raises(Crash):
        with ckpt.run_lock(tmp_path):
            raise Crash("killed")
    with ckpt.run_lock(tmp_path):  # released by the error
        pass


def test_stale_temporaries_in_a_run_folder_are_removed_on_start(data, tmp_path):
    tmp_path.mkdir(exist_ok=True)
    names = (".checkpoint.pt.k1ll3d.tmp", "summary.json.part", ".metrics.jsonl.tmp",
             ".tmp-somehost_1-0a1b2c3d-checkpoint.pt")
    stale = [tmp_path / name for name in names]
    for path in stale:
        path.write_bytes(b"left by a killed process")
    train(tiny_config(max_steps=1), data[0], None, tmp_path)
    assert not [p for p in stale if p.exists()]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt", "metrics.jsonl", "run.lock"]


def test_truncated_checkpoint_falls_back_to_the_previous_one(data, whole_run, tmp_path):
    per_epoch = len(epoch_batches(len(data[0]), 32, 0, 0))
    crash_at(resume_config(), data, tmp_path, per_epoch + 5)
    current = tmp_path / "checkpoint.pt"
    content = current.read_bytes()
    current.write_bytes(content[: len(content) // 2])  # a copy cut short, a bad block
    with pytest.warns(UserWarning, match=rf"{re.escape(str(current))} cannot be loaded.*previous"):
        resumed = train(resume_config(), *data, tmp_path)
    assert resumed["resumed_from_step"] == per_epoch  # the checkpoint before the damaged one
    assert same_run(whole_run, tmp_path)  # still exact
    assert (tmp_path / "checkpoint.pt.damaged").exists()  # kept for inspection, out of the rotation


def test_no_loadable_checkpoint_is_one_clear_refusal(data, tmp_path):
    train(tiny_config(max_steps=4), data[0], None, tmp_path)
    for name in ("checkpoint.pt", "checkpoint.previous.pt"):
        (tmp_path / name).write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ckpt.ResumeError, match=rf"{re.escape(str(tmp_path))} has no loadable checkpoint"):
        train(tiny_config(max_steps=4), data[0], None, tmp_path)
    assert train(tiny_config(max_steps=4, resume=False), data[0], None, tmp_path)["steps"] == 4  # if asked


def test_torn_last_metrics_line_is_dropped_on_resume(data, whole_run, tmp_path):
    per_epoch = len(epoch_batches(len(data[0]), 32, 0, 0))
    crash_at(resume_config(), data, tmp_path, per_epoch + 5)
    with (tmp_path / "metrics.jsonl").open("a") as log:
        log.write('{"kind": "step", "step": 14, "ep')  # killed mid-write
    train(resume_config(), *data, tmp_path)
    assert same_run(whole_run, tmp_path)


def test_load_checkpoint_names_a_damaged_file(tmp_path):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(b"\x80\x02 not a zip archive")
    with pytest.raises(ckpt.CheckpointError, match=rf"{re.escape(str(path))} cannot be loaded"):
        load_pretrained(path)


def test_a_checkpoint_without_fingerprints_is_not_resumed_blindly(data, tmp_path):
    """Checkpoints written before runs recorded their data cannot be checked: refused, not trusted."""
    train(tiny_config(max_steps=1), data[0], None, tmp_path)
    state = ckpt.load_checkpoint(tmp_path)
    del state["data_fingerprint"]
    ckpt.save_atomic(state, tmp_path / "checkpoint.pt")
    with pytest.raises(ckpt.ResumeError, match="data_fingerprint not recorded there"):
        train(tiny_config(max_steps=1), data[0], None, tmp_path)


def test_a_file_system_without_locks_is_warned_about(tmp_path, monkeypatch):
    import fcntl

    def no_locks(fd, operation):
        raise OSError(37, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with pytest.warns(UserWarning, match=rf"{re.escape(str(tmp_path))} cannot be locked"):
        with ckpt.run_lock(tmp_path):
            pass


def test_command_line_reports_a_missing_table_and_a_broken_log_in_one_line(tmp_path, capsys):
    from spectm.pretrain import main

    assert main(["--data", str(tmp_path / "missing.npz"), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert "missing.npz" in err and len(err.splitlines()) == 1
    run, table = tmp_path / "run", tmp_path / "table.npz"
    spectra = synthetic_spectra(160, seed=3, n_dates=5)
    np.savez(table, Rrs=spectra["Rrs"], time=spectra["time"])
    argv = ["--data", str(table), "--out", str(run), "--set", "max_steps=2", "--set", "progress=False",
            "--set", "batch_size=32", "--set", f"model={TINY_MODEL!r}"]
    assert main(argv) == 0
    lines = (run / "metrics.jsonl").read_text().splitlines()
    (run / "metrics.jsonl").write_text("\n".join(["{broken", *lines]) + "\n")  # damaged, not torn
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "metrics.jsonl" in err and "line 1" in err and len(err.splitlines()) == 1
