"""What RigL, SET, SNFS and SRigL share: the drop-fraction schedule of their mask updates.

Every ``delta_t`` batches until ``t_end`` (docs/semantics.md "Schedule": the batch counter starts
at 1 and an update is due when step % delta_t == 0 and step < t_end), ``Method.update_masks``
gives each sparse layer one mask update from the method's per-layer hook
``update_layer(name, step, f)`` (a ``rigl.MaskUpdate``) at the scheduled drop fraction f. When
the update happens is the method's ``update_phase``: "before_step" replaces that batch's optimizer step
(RigL, SRigL, as in the official code and rigl-torch), "after_step" follows it (SET, SNFS).

``observe(step, grads)`` sees the dense gradients of every batch before they are masked (SNFS
keeps their moving average; RigL and SRigL, under ``DenseGradientGrowth``, accumulate the growth
gradient).
"""
from __future__ import annotations

from rigl_np.flops import forward_flops, rigl_training_flops
from rigl_np.methods.base import Method
from rigl_np.rigl import drop_fraction, is_update_step


class DynamicSparse(Method):
    """The drop-fraction schedule; subclasses give ``update_layer`` and ``update_phase``."""

    masks_change = True
    drop_schedule = True

    def __init__(self, densities, rng, delta_t=100, alpha=0.3, t_end=1, schedule="cosine",
                 snapshot_every=0):
        super().__init__(densities, rng, snapshot_every)
        self.delta_t, self.alpha, self.t_end, self.schedule = delta_t, alpha, t_end, schedule

    @classmethod
    def options(cls, cfg, total_steps: int) -> dict:
        """The schedule: delta_t, alpha, the drop-fraction decay, t_end as a step."""
        return dict(delta_t=cfg.delta_t, alpha=cfg.alpha, schedule=cfg.drop_schedule,
                    t_end=int(cfg.t_end_fraction * total_steps))

    def observe(self, step: int, grads: dict) -> None:
        """See batch ``step``'s dense gradients before they are masked (default: nothing)."""

    def drop_fraction_at(self, step: int) -> float:
        return drop_fraction(step, self.alpha, self.t_end, self.schedule)

    def before_step(self, step, grads) -> bool:
        self.observe(step, grads)                          # dense, before masking
        if self.update_phase == "before_step" and is_update_step(step, self.delta_t, self.t_end):
            self.update_masks(step)
            return False                                    # no optimizer step on update batches
        return super().before_step(step, grads)

    def after_step(self, step) -> None:
        super().after_step(step)
        if self.update_phase == "after_step" and is_update_step(step, self.delta_t, self.t_end):
            self.update_masks(step)


class DenseGradientGrowth(DynamicSparse):
    """The base of RigL and SRigL: grow by the dense gradient, instead of the update batch's step.

    The growth signal is the mean dense gradient of the last ``grad_accumulation`` batches before
    an update (1: the update batch's own, the paper's signal; more: rigl-torch's
    ``grad_accumulation_n``), summed into ``dense_grads`` and dropped after each update. FLOPs:
    the dense gradient is paid only on those batches (``flops.rigl_training_flops``).
    """

    update_phase = "before_step"
    extra_state = ("dense_grads",)          # a checkpoint mid-accumulation must keep them

    def __init__(self, densities, rng, grad_accumulation=1, **schedule):
        super().__init__(densities, rng, **schedule)
        if not 1 <= grad_accumulation < self.delta_t:
            raise ValueError(f"grad_accumulation must lie in [1, delta_t), got {grad_accumulation}")
        self.grad_accumulation = grad_accumulation
        self.dense_grads = {}

    @classmethod
    def options(cls, cfg, total_steps: int) -> dict:
        return {**super().options(cfg, total_steps), "grad_accumulation": cfg.grad_accumulation}

    def training_flops(self, flops, densities) -> float:
        return rigl_training_flops(sum(flops.values()), forward_flops(flops, densities),
                                   self.delta_t, self.grad_accumulation)

    def observe(self, step, grads) -> None:
        """Add batch ``step``'s dense gradients when it is one of the last n before an update."""
        n = self.grad_accumulation
        if (-step) % self.delta_t >= n or step >= self.t_end:
            return
        for name in self.masks:
            g = grads[name] / n
            self.dense_grads[name] = self.dense_grads[name] + g if name in self.dense_grads else g

    def update_masks(self, step: int) -> dict:
        record = super().update_masks(step)
        self.dense_grads = {}                               # the next update starts afresh
        return record
