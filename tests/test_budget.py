"""Run-time estimates: the step arithmetic, the sentence a refused run prints, its override."""

from __future__ import annotations

import pytest

from spectm.budget import ALLOW_LONG_RUN_ENV, estimate_run, long_run_allowed, long_run_sentence, run_steps

TINY = {"profile": "quick", "model": {"n_layers": 1, "width": 16, "n_heads": 2, "decoder_width": 16,
                                      "decoder_heads": 2}, "batch_size": 8, "epochs": 2, "precision": "fp32"}


def test_estimate_multiplies_the_step_time_by_the_run_steps():
    estimate = estimate_run(TINY, n_samples=20, step_seconds=0.5)
    assert estimate["steps"] == 2 * 3  # ceil(20 / 8) batches per epoch, 2 epochs
    assert estimate["seconds"] == pytest.approx(3.0)
    assert estimate["hours"] == pytest.approx(3.0 / 3600)


def test_max_steps_caps_the_estimate():
    assert run_steps({"epochs": 100, "batch_size": 8, "max_steps": 7}, 1000) == 7
    assert run_steps({"epochs": 1, "batch_size": 8, "max_steps": None}, 8) == 1


def test_bad_sample_count_and_step_time_are_named():
    with pytest.raises(ValueError, match="n_samples"):
        estimate_run(TINY, n_samples=0, step_seconds=0.5)
    with pytest.raises(ValueError, match="step_seconds"):
        estimate_run(TINY, n_samples=10, step_seconds=0.0)


def test_refusal_sentence_names_hours_device_and_both_overrides():
    estimate = estimate_run({**TINY, "epochs": 3000}, n_samples=8000, step_seconds=2.0)
    sentence = long_run_sentence(estimate)
    assert "about 1666.7 h" in sentence and "this CPU" in sentence and "quick profile" in sentence
    assert "--allow-long-run" in sentence and f"{ALLOW_LONG_RUN_ENV}=1" in sentence


def test_override_by_flag_or_environment():
    assert not long_run_allowed(False, environ={})
    assert long_run_allowed(True, environ={})
    assert long_run_allowed(False, environ={ALLOW_LONG_RUN_ENV: "1"})
    assert not long_run_allowed(False, environ={ALLOW_LONG_RUN_ENV: "0"})


def test_timing_a_tiny_model_counts_real_steps(monkeypatch):
    import spectm.train as train

    calls = []
    real_step = train.train_step
    monkeypatch.setattr(train, "train_step", lambda *a, **k: calls.append(1) or real_step(*a, **k))
    estimate = estimate_run(TINY, n_samples=16)
    assert len(calls) == 4  # one warm-up and three timed steps
    assert estimate["seconds_per_step"] > 0 and estimate["steps"] == 4


def test_bf16_pays_off_only_with_a_clear_margin():
    from spectm.budget import bf16_pays_off

    assert bf16_pays_off({"bfloat16": 900e9, "float32": 200e9})
    assert not bf16_pays_off({"bfloat16": 59e9, "float32": 109e9})
    assert not bf16_pays_off({"bfloat16": 110e9, "float32": 100e9})


def test_gemm_rates_measures_both_precisions():
    from spectm.budget import gemm_rates

    rates = gemm_rates(size=64, repeats=1)
    assert set(rates) == {"bfloat16", "float32"} and all(rate > 0 for rate in rates.values())


def test_a_long_cpu_run_is_refused_before_it_starts_and_the_override_lets_it_go(monkeypatch, capsys):
    from spectm import budget

    monkeypatch.setattr(budget, "time_steps", lambda config, device="cpu": 30.0)  # a paper-sized step here
    monkeypatch.delenv(budget.ALLOW_LONG_RUN_ENV, raising=False)
    config = {"profile": "paper", "epochs": 100, "batch_size": 256}
    with pytest.raises(budget.LongRunRefused, match="--allow-long-run"):
        budget.check_long_run(config, 20_000, "cpu")
    assert "estimated training time" in capsys.readouterr().out
    assert budget.check_long_run(config, 20_000, "cpu", allow=True)["hours"] > 3
    monkeypatch.setenv(budget.ALLOW_LONG_RUN_ENV, "1")
    assert budget.check_long_run(config, 20_000, "cpu")["steps"] == 100 * 79


def test_short_runs_and_gpu_runs_are_not_timed(monkeypatch):
    from spectm import budget

    monkeypatch.setattr(budget, "time_steps", lambda *a, **k: pytest.fail("a short run must not be timed"))
    assert budget.check_long_run({"profile": "quick", "epochs": 4, "batch_size": 256}, 20_000, "cpu") is None
    assert budget.check_long_run({"profile": "paper", "epochs": 100}, 20_000, "cuda") is None


def test_spectm_pretrain_refuses_a_long_cpu_run_in_one_line(monkeypatch, capsys, tmp_path):
    from spectm import budget, pretrain

    monkeypatch.setattr(budget, "time_steps", lambda config, device="cpu": 30.0)
    monkeypatch.delenv(budget.ALLOW_LONG_RUN_ENV, raising=False)
    code = pretrain.main(["--profile", "paper", "--data", "synthetic", "--synthetic-size", "4000",
                          "--out", str(tmp_path / "run"), "--set", "epochs=200", "--set", "device='cpu'"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("spectm pretrain: the paper profile would train for")
    assert not (tmp_path / "run" / "checkpoint.pt").exists()
