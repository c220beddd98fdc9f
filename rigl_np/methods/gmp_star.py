"""GMP* (Kurtic & Alistarh 2022, "GMP*: well-tuned gradual magnitude pruning"): gradual magnitude
pruning whose cubic schedule starts with a jump.

The whole method, part by part (docs/semantics.md "GMP*"):
- structure: unstructured; every layer starts dense;
- schedule: ``AcceleratedSchedule``: dense until t_accel (``--gmp-accel-fraction`` of training,
  at least batch 1); after that batch's optimizer step every layer jumps to density
  d_0 = max(d_l, 1 - ``--gmp-initial-sparsity``), then follows Zhu & Gupta's cubic
  (``prune.pruning_density`` from d_0) after every ΔT-th batch to its final density d_l,
  reached exactly at t_end = T_end (75 % of training by default) and held from there;
- signal: none;
- update: gradual pruning's own (``pruning.Pruning.update``, a part taken as it is, with its
  options: per layer, ``--selection global`` or ``--nm``), to this schedule's counts; pruned
  weights never come back.
``t_accel`` is resolved when the method is built, from the option and the run's length.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from rigl_np.methods.base import Method
from rigl_np.methods.pruning import Pruning
from rigl_np.methods.schedules import PruningSchedule
from rigl_np.options import ConfigError, opt, require
from rigl_np.prune import is_pruning_step, pruning_density


@dataclass
class Options(Pruning.Options):
    gmp_initial_sparsity: float = opt(0.5, "GMP*: the sparsity every layer jumps to at t_accel "
                                      "(a layer whose final sparsity is lower goes there)")
    gmp_accel_fraction: float = opt(0.0, "GMP*: t_accel, the jump's batch, as a fraction of "
                                    "training (0: after the first batch)")

    def __post_init__(self):
        super().__post_init__()
        require(0 <= self.gmp_initial_sparsity < 1, "gmp_initial_sparsity", "lie in [0, 1)",
                self.gmp_initial_sparsity)
        require(0 <= self.gmp_accel_fraction < 1, "gmp_accel_fraction", "lie in [0, 1)",
                self.gmp_accel_fraction)


@dataclass(frozen=True)
class AcceleratedSchedule(PruningSchedule):
    """Pruning's schedule from t0 = t_accel, where the density jumps to 1 - initial_sparsity."""

    initial_sparsity: float = 0.5
    total_steps: int = 0          # the run's batches (t_accel is a fraction of them)

    def configure(self, cfg, total_steps: int) -> "AcceleratedSchedule":
        return replace(super().configure(cfg, total_steps), total_steps=total_steps)

    def due(self, step: int) -> bool:
        return step == self.t0 or is_pruning_step(step, self.delta_t, self.t0, self.t1)

    def density(self, step: int, final_density: float) -> float:
        """1 before t_accel; from there the cubic from max(d, 1 - initial_sparsity) to d."""
        if step < self.t0:
            return 1.0
        start = max(final_density, 1 - self.initial_sparsity)
        return pruning_density(step, final_density, self.t0, self.t1, start)


class GMPStar(Method):
    """Dense until t_accel, a jump to the initial sparsity, then cubic to the final one."""

    name = "gmp-star"
    colour = "tab:olive"
    Options = Options
    schedule = AcceleratedSchedule()

    initial_masks = Pruning.initial_masks         # dense at the start
    update = Pruning.update                       # to the schedule's counts

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        o, s = self.options, self.schedule
        t_accel = max(1, int(o.gmp_accel_fraction * s.total_steps))
        self.schedule = replace(s, initial_sparsity=o.gmp_initial_sparsity,
                                t0=t_accel if s.total_steps else s.t0)

    @classmethod
    def check(cls, cfg, options=None) -> None:
        super().check(cfg, options)
        if options is not None and options.gmp_accel_fraction >= cfg.t_end_fraction:
            raise ConfigError(f"--gmp-accel-fraction {options.gmp_accel_fraction:g} must be "
                              f"below --t-end-fraction {cfg.t_end_fraction:g}: the jump comes "
                              "before the cubic that ends at t_end")
