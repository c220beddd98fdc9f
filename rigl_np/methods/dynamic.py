"""Dynamic sparse training: RigL, SET and SNFS, which differ only in the grow score.

Every ``delta_t`` batches until ``t_end`` (SPEC "Schedule": the batch counter starts at 1 and an
update is due when step % delta_t == 0 and step < t_end), each sparse layer drops the fraction
f(step) of its active weights with the smallest magnitude and grows as many where the grow score is
largest (``rigl_np.rigl.mask_update``); new connections start at 0 with zeroed optimizer state.

- RigL (Evci et al. 2020): grow score |dense gradient| of the update batch (or the mean of the last
  ``grad_accumulation`` batches, rigl-torch's option). The update replaces the optimizer step of
  that batch, as in the official code and rigl-torch.
- SET (Mocanu et al. 2018, as in the RigL paper): random grow score; the optimizer steps first.
- SNFS (Dettmers & Zettlemoyer 2019, as in the official RigL code): grow score |exponential
  moving average (beta 0.9) of the dense gradients|, updated every batch; no redistribution across
  layers; the optimizer steps first.
"""
from __future__ import annotations

from rigl_np import backend
from rigl_np.methods.base import Static
from rigl_np.rigl import (apply_update, drop_fraction, gradient_ema, is_update_step, mask_update,
                          rigl_score, set_score, snfs_score)


class DynamicSparse(Static):
    """The schedule and the update loop shared by RigL, SET and SNFS."""

    def __init__(self, densities, rng, delta_t=100, alpha=0.3, t_end=1, schedule="cosine",
                 snapshot_every=0):
        super().__init__(densities, rng, snapshot_every)
        self.delta_t, self.alpha, self.t_end, self.schedule = delta_t, alpha, t_end, schedule

    def grow_score(self, name):
        raise NotImplementedError

    def update_masks(self, step: int) -> dict:
        """One mask update of every sparse layer at batch ``step``; returns the record."""
        f = drop_fraction(step, self.alpha, self.t_end, self.schedule)
        layers = {}
        for name, mask in self.masks.items():
            # 1. drop by magnitude, grow by this method's score (rigl_np.rigl.mask_update)
            result = mask_update(self.params[name], mask, self.grow_score(name), f)
            # 2. zero-init new connections and their optimizer state; re-mask weights and state
            apply_update(self.params, self.masks, name, result, self.optimizer)
            layers[name] = {"dropped": result.n_drop, "grown": result.n_drop,
                            "regrown_same": result.n_regrown_same, "nnz": result.n_active}
        return self.records.add(step, f, layers, self.masks)


class RigL(DynamicSparse):
    """Grow by the dense gradient; the update batch takes no optimizer step."""

    name = "rigl"
    extra_state = ("dense_grads",)          # a checkpoint mid-accumulation must keep them

    def __init__(self, densities, rng, grad_accumulation=1, **schedule):
        super().__init__(densities, rng, **schedule)
        if not 1 <= grad_accumulation < self.delta_t:
            raise ValueError(f"grad_accumulation must lie in [1, delta_t), got {grad_accumulation}")
        self.grad_accumulation = grad_accumulation
        self.dense_grads = {}

    def _accumulate(self, step, grads):
        """Mean of the dense gradients of the last ``grad_accumulation`` batches before an update."""
        if (-step) % self.delta_t >= self.grad_accumulation or step >= self.t_end:
            return
        for name in self.masks:
            g = grads[name] / self.grad_accumulation
            self.dense_grads[name] = self.dense_grads[name] + g if name in self.dense_grads else g

    def grow_score(self, name):
        return rigl_score(self.dense_grads[name])


    def before_step(self, step, grads) -> bool:
        self._accumulate(step, grads)                      # dense, before masking
        if is_update_step(step, self.delta_t, self.t_end):
            self.update_masks(step)
            self.dense_grads = {}
            return False                                    # no optimizer step on update batches
        return super().before_step(step, grads)


class SET(DynamicSparse):
    """Grow at random (drawn on the host RNG); update after the optimizer step."""

    name = "set"

    def grow_score(self, name):
        return set_score(self.masks[name].shape, self.rng)

    def after_step(self, step) -> None:
        super().after_step(step)
        if is_update_step(step, self.delta_t, self.t_end):
            self.update_masks(step)


class SNFS(SET):
    """Grow by |EMA of dense gradients| (momentum-style, beta 0.9), kept every batch."""

    name = "snfs"
    extra_state = ("ema",)

    def attach(self, model, optimizer):
        super().attach(model, optimizer)
        self.ema = {name: backend.array_module(m).zeros(m.shape, dtype="float32")
                    for name, m in self.masks.items()}

    def before_step(self, step, grads) -> bool:
        for name in self.masks:
            self.ema[name] = gradient_ema(self.ema[name], grads[name])   # dense, before masking
        return super().before_step(step, grads)

    def grow_score(self, name):
        return snfs_score(self.ema[name])
