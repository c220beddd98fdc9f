"""A training method assembled from declared parts, and the two hooks the trainer calls.

A method is a ``Method`` subclass that declares (docs/semantics.md "Methods"):

- ``Options``: a dataclass of its own options (``rigl_np.options.opt`` fields); the registry
  merges them into the CLI, config.json (group ``options``) and validation;
- ``structure``: which masks it may hold and how the first ones are drawn (``rigl_np.masks``);
  options that define ``structure()`` choose another when the method is built (``--nm``);
- ``schedule``: when its masks change and whether that batch takes the optimizer step
  (``schedules.py``; None: never);
- ``Signal``: what it watches between updates (``signals.py``: nothing, the dense gradient, a
  moving average), and what that costs in FLOPs;
- ``update(step, f) -> {layer: MaskUpdate}``: one update of all its layers at once (a per-layer
  method is a one-line loop; a global selection is an ordinary update);
- optionally ``forward_weights(step)``: the weights a step computes with, when they are not the
  stored ones (default: the stored W, which the masks keep at W * M);
- optionally ``verification`` (a ``Verification``): how ``rigl_np.verify`` reproduces its update
  from another implementation's dump (None: verify does not check it).

The trainer (``rigl_np.train.train_step``) calls, per batch counted from 1:

- ``before_step(step, grads) -> bool``: the signal sees the dense gradients; an update due now
  that replaces the optimizer step runs (and False is returned); else the gradients are masked,
  so the optimizer never moves an inactive weight;
- ``after_step(step)``: W <- W * M and every optimizer slot <- slot * M (neither weight decay nor
  momentum revives a dead weight), then an update due now that follows the step runs.

``kind()`` gives the facts runs record in metrics.json (``FACTS``), derived from the parts, so
plots and tables ask a run what it is instead of testing names. A subclass that sets ``name`` is
registered (``rigl_np.methods.get``). Dense training is the base with no masks.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

from rigl_np import models
from rigl_np.flops import forward_flops
from rigl_np.masks import Unstructured, apply_update
from rigl_np.methods.records import MaskRecords
from rigl_np.methods.signals import NoSignal
from rigl_np.options import ConfigError
from rigl_np.sparsity import density_report, layer_densities

REGISTRY = {}        # {name: Method subclass}, filled as the method modules are imported

FACTS = {
    "has_masks": "False: trains a plain dense model (dense, small-dense)",
    "masks_change": "True: the masks change during training",
    "drop_schedule": "True: the mask updates follow the drop-fraction schedule (RigL, SET, ...)",
    "update_phase": "when masks change: 'before_step' (instead of that batch's optimizer step), "
                    "'after_step', or None",
    "dense_baseline": "True: the dense reference every other method is measured against",
}


@dataclass
class NoOptions:
    """A method without options of its own."""


@dataclass(frozen=True)
class Verification:
    """How ``rigl_np.verify`` reproduces a method's update from another implementation's dump.
    The method's ``structure`` picks the conventions it is checked under (verify/families/)."""

    grow_key: str              # the dump's key that the grow step ranks ("grad", "grow_score")
    what: str                  # what that array holds, for verify --help and docs/verify.md
    grow_score: object = None  # that array -> the grow score (rigl.rigl_score: |G|); None: as is
    label: str = "|G|"         # the grow score's name in verify's text
    scope: str = "layer"       # "model": the update spans layers (verify runs ``reproduce``)


class Method:
    """A training method: its parts, densities, model, masks, hooks, FLOPs and saved state."""

    name = None              # the --method value; setting it registers the class
    Options = NoOptions
    structure = Unstructured()
    schedule = None          # a schedule (schedules.py) declared here, configured per run
    Signal = NoSignal
    has_masks = True
    dense_baseline = False
    verification = None      # a Verification: how verify checks the update (None: it cannot)
    colour = "tab:cyan"      # the method's one colour in every figure of several methods

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("name"):
            REGISTRY[cls.name] = cls

    def __init__(self, densities: dict, rng, options=None, schedule=None, snapshot_every: int = 0):
        self.densities, self.rng, self.snapshot_every = densities, rng, snapshot_every
        self.options = self.Options() if options is None else options
        self.schedule = schedule if schedule is not None else type(self).schedule
        # options may choose the structure (--nm, --selection global): their ``structure()``
        chooses = getattr(self.options, "structure", None)
        self.structure = chooses() if callable(chooses) else type(self).structure
        self.signal = self.Signal({}, self.schedule, self.options)     # layers come with attach

    # -- what the method is, and what it needs from a configuration ---------------------------
    @classmethod
    def kind(cls) -> dict:
        """The method's facts (``FACTS``) and name, as recorded in metrics.json."""
        s = cls.schedule
        return {"name": cls.name, "has_masks": cls.has_masks, "masks_change": s is not None,
                "drop_schedule": bool(s is not None and s.drop_schedule),
                "update_phase": None if s is None else
                ("before_step" if s.skip_step else "after_step"),
                "dense_baseline": cls.dense_baseline}

    @classmethod
    def check(cls, cfg, options=None) -> None:
        """Refuse settings this method cannot train with (``cfg``: a ``SparseConfig``)."""
        if cls.schedule is not None and cls.schedule.skip_step and cfg.delta_t < 2:
            raise ConfigError(f"--delta-t 1 makes every batch before t_end a mask-update batch, "
                              f"and {cls.name} skips the optimizer step on those (it would "
                              "train only after t_end); use --delta-t 2 or more")
        if options is not None:
            cls.Signal.check(cfg, options)
            if callable(getattr(options, "check", None)):        # the options' own rules
                options.check(cfg)

    @classmethod
    def layer_densities(cls, cfg, shapes: dict) -> dict:
        """Per-layer densities for ``cfg.distribution`` at global density 1 - ``cfg.sparsity``."""
        first_dense = cfg.distribution == "uniform-first-dense"
        distribution = "uniform" if first_dense else cfg.distribution
        return layer_densities(shapes, 1 - cfg.sparsity, distribution,
                               first_layer_dense=first_dense)

    @classmethod
    def from_config(cls, cfg, densities: dict, total_steps: int, rng, snapshot_every: int = 0,
                    options=None):
        """The method for a ``SparseConfig`` (and its ``Options``), for ``total_steps`` batches."""
        schedule = cls.schedule.configure(cfg, total_steps) if cls.schedule else None
        return cls(densities, rng, options, schedule, snapshot_every)

    @classmethod
    def build(cls, densities: dict, rng, snapshot_every: int = 0, **settings):
        """The method with its schedule's numbers and its options given by keyword, for
        notebooks, tests and benchmarks: ``RigL.build(densities, rng, delta_t=4, t_end=100,
        grad_accumulation=2)``."""
        own = {f.name for f in fields(cls.Options)}
        options = cls.Options(**{k: v for k, v in settings.items() if k in own})
        timing = {k: v for k, v in settings.items() if k not in own}
        schedule = replace(cls.schedule, **timing) if timing else None
        return cls(densities, rng, options, schedule, snapshot_every)

    @classmethod
    def reproduce(cls, weights: dict, masks: dict, signal: dict, f: float, step: int = 0) -> dict:
        """This method's update of arrays another implementation dumped (``{layer: array}``:
        weights, masks, and its signal's value, the dense gradient say) at drop fraction ``f``:
        how ``verify`` reproduces an update that spans layers. Default options; each layer's
        budget is its count."""
        method = cls({name: 1.0 for name in masks}, None)
        method.params, method.masks = dict(weights), dict(masks)
        method.shapes = {name: m.shape for name, m in masks.items()}
        method.budgets = {name: int(m.sum()) for name, m in masks.items()}
        method.signal.value = dict(signal)
        return method.update(step, f)

    def build_model(self, model_name: str, input_shape, num_classes: int, rng):
        """The model this method trains (``rigl_np.models.build_model``; small-dense narrows it)."""
        self.input_shape, self.width = tuple(input_shape), 1.0
        return models.build_model(model_name, input_shape, num_classes, rng)

    def training_flops(self, flops: dict, densities: dict) -> float:
        """Training FLOPs of one example at ``densities``: the signal's price (3 f_S without one)."""
        return self.signal.training_flops(sum(flops.values()), forward_flops(flops, densities))

    def inference_flops(self, flops: dict, densities: dict) -> float:
        """Forward FLOPs of one example at ``densities`` (f_S)."""
        return forward_flops(flops, densities)

    # -- attaching, and the two trainer hooks -------------------------------------------------
    def attach(self, model, optimizer):
        """Draw the masks for ``model``'s sparse layers, apply them, and start the signal."""
        self.model, self.optimizer, self.params = model, optimizer, model.params()
        self.shapes = {n: self.params[n].shape for n in model.sparsifiable()}
        self.densities = self.structure.densities(self.shapes, self.densities)   # N:M: n/m or 1
        sparse = {n: s for n, s in self.shapes.items()
                  if self.has_masks and self.densities[n] < 1}
        self.budgets = self.structure.budgets(sparse, self.densities)
        self.masks = self.initial_masks(sparse)                    # {name: bool, weight-shaped}
        self.records = (MaskRecords(self.masks, self.snapshot_every, self.shapes)
                        if self.has_masks else None)
        self.remask()
        self.signal = self.Signal(self.masks, self.schedule, self.options)

    def initial_masks(self, shapes: dict) -> dict:
        """The structure's random masks, drawn on the host RNG and moved to the backend."""
        return self.structure.initial_masks(shapes, self.densities, self.rng)

    def remask(self) -> None:
        """W <- W * M and optimizer state <- state * M for every sparse layer."""
        for name, mask in self.masks.items():
            self.params[name] *= mask
            self.optimizer.mask_state(name, mask)

    def forward_weights(self, step: int):
        """``{name: array}`` to compute batch ``step``'s forward and backward with instead of
        the stored weights, or None (the stored ones; the default)."""
        return None

    def before_step(self, step, grads) -> bool:
        # 1. the signal sees the dense gradients, before they are masked
        self.signal.observe(step, grads)
        # 2. an update due now that replaces this batch's optimizer step
        if self.schedule is not None and self.schedule.skip_step and self.schedule.due(step):
            self.update_masks(step)
            return False
        # 3. masked gradients: the optimizer never moves an inactive weight
        for name, mask in self.masks.items():
            grads[name] *= mask
        return True

    def after_step(self, step) -> None:
        # 1. re-mask weights and optimizer state; snapshot on a fixed interval
        self.remask()
        if self.records is not None:
            self.records.tick(step, self.masks)
        # 2. an update due now that follows the optimizer step
        if self.schedule is not None and not self.schedule.skip_step and self.schedule.due(step):
            self.update_masks(step)

    # -- mask updates --------------------------------------------------------------------------
    def update(self, step: int, f: float) -> dict:
        """``{layer: masks.MaskUpdate}``: this method's update of its layers at batch ``step``
        and drop fraction ``f`` (the masks, weights and signal as they are now)."""
        raise NotImplementedError(f"{type(self).__name__} does not update its masks")

    def update_masks(self, step: int) -> dict:
        """One mask update at batch ``step``, applied and recorded; returns the record."""
        # 1. the method's update of every layer (drop and grow; SRigL ablates; pruning drops)
        f = self.schedule.fraction(step)
        results = self.update(step, f)
        # 2. zero-init new connections and their optimizer state; re-mask weights and state
        for name, result in results.items():
            apply_update(self.params, self.masks, name, result, self.optimizer)
        # 3. the record, and a fresh signal for the next update
        record = self.records.add(step, f, {n: r.record() for n, r in results.items()},
                                  self.masks)
        self.signal.reset()
        return record

    def notices(self) -> list:
        """Lines a run says once, before training, about its masks' structure (N:M: the layers
        it leaves dense, and why)."""
        return self.structure.notices(self.shapes)

    def structure_record(self) -> dict:
        """What metrics.json records under ``structure`` ({} for unstructured masks)."""
        return self.structure.record(self.shapes)

    def summary(self) -> dict:
        """What an epoch's record adds: the real global density and the ITOP rate."""
        if self.records is None:
            return {}
        report = density_report(self.masks, self.shapes)
        return {"global_density": report["global_density"], "itop_rate": self.records.itop_rate()}

    # -- saved state (``rigl_np.checkpoint`` flattens and writes it) --------------------------
    @property
    def extra_state(self) -> tuple:
        """The names of the ``{layer: array}`` groups a checkpoint keeps besides the masks."""
        return (self.signal.state_name,) if self.signal.state_name else ()

    def state(self):
        """(nested dict of arrays, JSON-able meta) that ``load_state`` restores exactly."""
        arrays = {"mask": self.masks,
                  **{name: self.signal.value for name in self.extra_state}}
        meta = {"rng": self.rng.bit_generator.state}
        if self.records is not None:
            arrays["records"], meta["records"] = self.records.state()
        return arrays, meta

    def load_state(self, arrays: dict, meta: dict) -> None:
        self.masks = {n: m.astype(bool) for n, m in arrays.get("mask", {}).items()}
        for name in self.extra_state:
            self.signal.value = dict(arrays.get(name, {}))
        if self.records is not None:
            self.records.load_state(arrays.get("records", {}), meta["records"])
        self.rng.bit_generator.state = meta["rng"]
