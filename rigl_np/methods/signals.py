"""What a method watches between its mask updates: the signal part of a method.

A signal is built when the method attaches, as ``Signal(masks, schedule, options)`` (the masked
layers, the configured schedule, the method's options). The trainer shows every batch's dense gradients (before they are masked) to the method's signal,
``observe(step, grads)``; the update reads ``value`` (``{layer: array}``); ``reset()`` runs after
every update. A signal also says what it costs: the dense gradient is a dense backward pass
(``training_flops``; RigL paper, Appendix H; docs/semantics.md "FLOPs"). ``state_name`` is the key
its arrays have in a checkpoint (a checkpoint mid-accumulation must keep them).

- ``NoSignal``: nothing (static, SET, pruning): 3 f_S per example;
- ``DenseGradient``: the mean dense gradient of the last n batches up to an update (n = 1: the
  update batch's own, the paper's signal; more: rigl-torch's ``grad_accumulation_n``), paid on
  those n batches of every ΔT + 1 (``flops.rigl_training_flops``);
- ``GradientEMA``: an exponential moving average of the dense gradients, kept every batch (SNFS's
  momentum): 2 f_S + f_D per example.
"""
from __future__ import annotations

from rigl_np import backend
from rigl_np.flops import rigl_training_flops, snfs_training_flops
from rigl_np.options import ConfigError
from rigl_np.rigl import gradient_ema


class NoSignal:
    """Watches nothing."""

    state_name = None

    def __init__(self, masks: dict, schedule, options):
        self.layers, self.schedule, self.value = tuple(masks), schedule, {}

    @classmethod
    def check(cls, cfg, options) -> None:
        """Refuse options this signal cannot work with (``cfg``: a ``SparseConfig``)."""

    def observe(self, step: int, grads: dict) -> None:
        """Nothing to watch."""

    def reset(self) -> None:
        """Nothing to forget."""

    def training_flops(self, f_dense: float, f_sparse: float) -> float:
        return 3 * f_sparse


class DenseGradient(NoSignal):
    """The mean dense gradient of the last ``options.grad_accumulation`` batches up to an update."""

    state_name = "dense_grads"

    def __init__(self, masks, schedule, options):
        super().__init__(masks, schedule, options)
        self.n = options.grad_accumulation

    @classmethod
    def check(cls, cfg, options) -> None:
        n = options.grad_accumulation
        if n >= cfg.delta_t:
            raise ConfigError(f"--grad-accumulation {n} must be below --delta-t {cfg.delta_t}: "
                              "the gradients averaged for growth are those of the last batches "
                              "before each update")

    def observe(self, step, grads) -> None:
        """Add batch ``step``'s dense gradients / n when it feeds the next update."""
        if not self.schedule.feeds_update(step, self.n):
            return
        for name in self.layers:
            g = grads[name] / self.n
            self.value[name] = self.value[name] + g if name in self.value else g

    def reset(self) -> None:
        self.value = {}                                     # the next update starts afresh

    def training_flops(self, f_dense, f_sparse) -> float:
        return rigl_training_flops(f_dense, f_sparse, self.schedule.delta_t, self.n)


class GradientEMA(NoSignal):
    """beta * ema + (1 - beta) * g every batch (beta 0.9), from zeros."""

    state_name = "ema"

    def __init__(self, masks, schedule, options):
        super().__init__(masks, schedule, options)
        self.value = {name: backend.array_module(m).zeros(m.shape, dtype="float32")
                      for name, m in masks.items()}

    def observe(self, step, grads) -> None:
        for name in self.layers:
            self.value[name] = gradient_ema(self.value[name], grads[name])

    def training_flops(self, f_dense, f_sparse) -> float:
        return snfs_training_flops(f_dense, f_sparse)
