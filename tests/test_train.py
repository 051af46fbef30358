"""The pretraining loop: it learns, resumes bit-identically, agrees across DDP ranks and saves safely."""

from __future__ import annotations

import json
import math
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from spectm import checkpoint as ckpt
from spectm.datasets import PixelSpectra, split_by_date, synthetic_spectra
from spectm.masking import make_mask
from spectm.train import epoch_batches, get_lr, load_pretrained, resolve_config, train

TINY_MODEL = {"n_layers": 1, "width": 32, "n_heads": 2, "decoder_width": 32, "decoder_depth": 1,
              "decoder_heads": 2, "n_wavelength_frequencies": 8}


def tiny_config(**overrides) -> dict:
    return {"profile": "quick", "model": dict(TINY_MODEL), "batch_size": 32, "epochs": 2,
            "learning_rate": 3e-3, "checkpoint_every": 3, "progress": False, **overrides}


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread: on a shared 2-core machine two spinning OpenMP threads are 10x slower."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def data():
    table = synthetic_spectra(320, seed=1, n_dates=10)
    pixels = PixelSpectra(table["rrs"], table["time"], table["future"])
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


def _ddp_worker(rank, world_size, port, out_dir, table):
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), GLOO_SOCKET_IFNAME="lo")
    torch.set_num_threads(1)
    pixels = PixelSpectra(table["rrs"], table["time"], table["future"])
    seen = {}

    def remember(state):
        seen["model"] = state["model"]
        seen.setdefault("first_loss", state["local_loss"])

    train(tiny_config(masking="random", epochs=1, max_steps=4), pixels, None, out_dir, callback=remember)
    torch.save({"weights": seen["model"].state_dict(), "first_loss": seen["first_loss"]},
               os.path.join(out_dir, f"rank{rank}.pt"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_ranks_end_with_identical_weights(tmp_path):
    table = {k: v for k, v in synthetic_spectra(256, seed=2).items() if k in ("rrs", "time", "future")}
    mp.start_processes(_ddp_worker, args=(2, _free_port(), str(tmp_path), table), nprocs=2, join=True,
                       start_method="spawn")
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert r0["first_loss"] != r1["first_loss"]  # each rank trained on its own shard...
    for name, tensor in r0["weights"].items():  # ...yet the averaged gradients keep them in lockstep
        assert torch.equal(tensor, r1["weights"][name]), name
    saved = ckpt.load_checkpoint(tmp_path)
    assert saved["step"] == 4 and saved["config"]["batch_size"] == 32
    assert torch.equal(saved["model"]["index_head.weight"], r0["weights"]["index_head.weight"])


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

    def dies_half_way(obj, f, *args, **kwargs):
        f.write(b"partial bytes")
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
    from spectm.train import main

    argv = ["--profile", "quick", "--masking", "random_spans", "--data", "synthetic",
            "--synthetic-size", "200", "--out", str(tmp_path), "--set", "max_steps=2",
            "--set", "progress=False", "--set", "batch_size=32", "--set", f"model={TINY_MODEL!r}"]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps"] == 2 and summary["resumed_from_step"] is None
    saved = ckpt.load_checkpoint(tmp_path)
    assert saved["config"]["masking"] == "random_spans" and saved["finished"]
