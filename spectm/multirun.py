"""Many small pretraining runs at once: K runs of one model shape trained together in one process.

The ablation and fair-test runs differ only in masking family, seed and loss weights. Here their parameters
are stacked (:func:`torch.func.stack_module_state`) and one ``vmap`` of :func:`torch.func.functional_call`
computes all K losses, so every layer is one batched kernel instead of K small ones. Each run keeps what it
would have had alone (:func:`spectm.train.train`): its initial weights (seeded by its own seed), its batches
(the permutation of its seed), its masks (its family, seeded by its seed and the step), its loss weights, its
own gradient-norm clipping, and AdamW on its slice of the stacked tensors (AdamW is elementwise, so a stacked
tensor steps each run as alone). Results agree with the single runs to float rounding, not bit for bit: the
batched kernels sum in another order, and runs whose masks differ share one padded token layout.

Not wired into the chapters yet; :func:`train_together` returns the trained models.
"""

from __future__ import annotations

import copy
import warnings

import torch
from torch.func import functional_call, stack_module_state, vmap

from spectm.model import SpecTM, TokenLayout, padded_layout, spectm_loss, token_layout
from spectm.train import (MASK_STREAM, autocast_dtype, build_model, draw_mask, epoch_batches, get_lr,
                          resolve_config, standardise_indices, step_schedule)

#: Config keys in which runs trained together may differ; every other key must be equal.
PER_RUN_KEYS = ("masking", "mask_budget", "native_ratio", "n_groups", "seed", "loss_weights")


def check_compatible(configs: list[dict]) -> None:
    """Refuse, naming the key, runs that differ in more than :data:`PER_RUN_KEYS` (shape, schedule, device)."""
    if not configs:
        raise ValueError("train_together needs at least one run config")
    keys = sorted({key for config in configs for key in config})  # the resolved configs: defaults and profile
    shared = [key for key in keys if key not in PER_RUN_KEYS]
    for index, config in enumerate(configs[1:], start=1):
        differ = [key for key in shared if config.get(key) != configs[0].get(key)]
        if differ:
            raise ValueError(f"run {index} differs from run 0 in {', '.join(differ)}: runs trained together may "
                             f"differ only in {', '.join(PER_RUN_KEYS)}")


class RunGroup:
    """K runs' stacked parameters, their optimizer and one training step of all of them."""

    def __init__(self, configs: list[dict], train_data):
        self.configs = [resolve_config(config) for config in configs]
        check_compatible(self.configs)
        models, self.groups = [], []
        for config in self.configs:
            torch.manual_seed(config["seed"])  # as spectm.train.setup: each run's own initial weights
            model, groups = build_model(config, train_data)
            models.append(model.to(self._device))
            self.groups.append(groups)
        self.models = models
        self.base = copy.deepcopy(models[0]).to("meta")  # the module structure functional_call runs
        self.params, self.buffers = stack_module_state(models)
        self.optimizer = self._optimizer(models[0])
        self.grid = models[0].wavelengths.numpy().copy()
        self.wavelengths = torch.tensor(self.grid, dtype=torch.float32, device=self._device)
        self.weights = torch.tensor([c["loss_weights"] for c in self.configs], device=self._device)
        self.dtype = autocast_dtype(self.configs[0], self._device)

    @property
    def _device(self) -> torch.device:
        return torch.device(self.configs[0]["device"])

    def _optimizer(self, model: SpecTM) -> torch.optim.AdamW:
        """AdamW as :func:`spectm.train.make_optimizer`: decay on what is a matrix in one run."""
        config, dims = self.configs[0], {name: p.dim() for name, p in model.named_parameters()}
        decayed = [p for name, p in self.params.items() if dims[name] >= 2]
        plain = [p for name, p in self.params.items() if dims[name] < 2]
        return torch.optim.AdamW([{"params": decayed, "weight_decay": config["weight_decay"]},
                                  {"params": plain, "weight_decay": 0.0}],
                                 lr=config["learning_rate"], betas=tuple(config["betas"]))

    def masks(self, n_rows: int, step: int) -> list[torch.Tensor]:
        """Each run's (n_rows, B) mask of ``step``, drawn as :func:`spectm.train.step_mask` draws it."""
        masks = []
        for config, groups in zip(self.configs, self.groups):
            if config["masking"] == "targeted":
                mask = draw_mask(config, self.grid, 1, (0,)).expand(n_rows, -1)
            else:
                mask = draw_mask(config, self.grid, n_rows, (config["seed"], MASK_STREAM, step, 0), groups)
            masks.append(mask.to(self._device))
        return masks

    def layout(self, masks: torch.Tensor) -> tuple[TokenLayout | None, TokenLayout | None]:
        """``(shared, per_run)``: one layout every run uses (each run's own when all are equal), else a
        stacked per-run layout padded to the longest run. ``masks`` (K, N, B) is already ``& observed``."""
        layouts = [token_layout(mask, self.models[0].config.encoder_sees_mask_tokens) for mask in masks]
        first = layouts[0]
        if first.keep_ids is None and all(
                lay.keep_ids is None and lay.n_kept == first.n_kept
                and (lay.order is None) == (first.order is None)
                and (lay.order is None or torch.equal(lay.order, first.order)) for lay in layouts):
            return first, None
        length = int((~masks).sum(-1).max())
        padded = [padded_layout(mask, length) for mask in masks]
        return None, TokenLayout(torch.stack([lay.keep_ids for lay in padded]),
                                 torch.stack([lay.key_valid for lay in padded]))

    def losses(self, batch: dict, masks: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """Total loss (K,) and loss parts (each (K,)) of every run on its own ``batch`` (tensors (K, N, ...))."""
        masks = masks & batch["observed"] & torch.isfinite(batch["values"])
        shared, per_run = self.layout(masks)
        wavelengths, dtype = self.wavelengths, self.dtype

        def one_run(params, buffers, batch, mask, weights, keep_ids, key_valid):
            layout = shared if shared is not None else TokenLayout(keep_ids, key_valid)
            with torch.autocast(wavelengths.device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
                outputs = functional_call(self.base, (params, buffers),
                                          (batch["values"], wavelengths, mask, batch["observed"]),
                                          {"layout": layout})
            outputs = {k: v.float() if v.is_floating_point() else v for k, v in outputs.items()}
            return spectm_loss(outputs, batch, tuple(weights))

        layout_dim = None if per_run is None else 0
        keep_ids, key_valid = (None, None) if per_run is None else (per_run.keep_ids, per_run.key_valid)
        with warnings.catch_warnings():  # known: SDPA's CPU kernel has no batching rule, it runs once per run
            warnings.filterwarnings("ignore", "There is a performance drop", UserWarning)
            return vmap(one_run, in_dims=(0, 0, 0, 0, 0, layout_dim, layout_dim))(
                self.params, self.buffers, batch, masks, self.weights, keep_ids, key_valid)

    def clip(self) -> torch.Tensor:
        """Each run's global gradient norm (K,), its slice clipped as ``clip_grad_norm_`` would alone."""
        grads = [p.grad for p in self.params.values() if p.grad is not None]
        norms = torch.stack([g.flatten(1).norm(dim=1) for g in grads], dim=1).norm(dim=1)
        clip = self.configs[0]["grad_clip"] or float("inf")
        scale = (clip / (norms + 1e-6)).clamp(max=1.0)
        for grad in grads:
            grad.mul_(scale.view(-1, *([1] * (grad.dim() - 1))))
        return norms

    def step(self, batch: dict, masks: list[torch.Tensor], lr: float) -> dict:
        """One optimizer step of every run; returns the loss parts and gradient norms, each (K,)."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        loss, parts = self.losses(batch, torch.stack(masks))
        self.optimizer.zero_grad(set_to_none=True)
        loss.sum().backward()  # runs share no parameter: each slice gets its own run's gradient
        grad_norm = self.clip()
        self.optimizer.step()
        return {"loss": loss.detach(), **{k: v.detach() for k, v in parts.items()}, "grad_norm": grad_norm}

    def unstacked(self) -> list[SpecTM]:
        """The K trained models, each a plain :class:`spectm.model.SpecTM` with its run's weights."""
        for k, model in enumerate(self.models):
            model.load_state_dict({name: value[k] for name, value in {**self.params, **self.buffers}.items()},
                                  strict=False)
        return self.models


def stacked_batch(run_group: RunGroup, train_data, rows: list[torch.Tensor]) -> dict:
    """The K runs' batches (each run's own rows), index targets standardised, stacked to (K, N, ...)."""
    device = run_group._device
    stats = run_group.models[0].index_standardization
    batches = [standardise_indices({k: v.to(device) for k, v in train_data[r].items()}, stats, device)
               for r in rows]
    return {key: torch.stack([b[key] for b in batches]) for key in batches[0]}


def train_together(configs: list[dict], train_data, callback=None) -> list[SpecTM]:
    """Train the runs of ``configs`` together; the models equal (to float rounding) what
    :func:`spectm.train.train` would train from each config alone on ``train_data``. ``callback(step,
    parts)`` after every step (parts each (K,))."""
    group = RunGroup(configs, train_data)
    config = group.configs[0]
    total, warmup, min_lr = step_schedule(config, len(train_data), 0, 1)
    step = 0
    for epoch in range(config["epochs"]):
        per_run = [epoch_batches(len(train_data), config["batch_size"], c["seed"], epoch) for c in group.configs]
        for rows in zip(*per_run):
            if step >= total:
                return group.unstacked()
            lr = get_lr(step, config["learning_rate"], warmup, total, min_lr)
            parts = group.step(stacked_batch(group, train_data, rows), group.masks(len(rows[0]), step), lr)
            if not bool(torch.isfinite(parts["loss"]).all()):
                raise FloatingPointError(f"non-finite loss {parts['loss'].tolist()} at step {step}")
            step += 1
            if callback is not None:
                callback(step, parts)
    return group.unstacked()
