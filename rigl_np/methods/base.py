"""The base every training method shares: its facts, masks outside the model, the two trainer hooks.

A method is attached to a model and its optimizer, then called twice per batch by
``rigl_np.train.train_step`` (docs/semantics.md "Schedule"):

- ``before_step(step, grads)``: ``grads`` are the dense gradients of batch ``step`` (counted from
  1). Here they are masked, so the optimizer never moves an inactive weight. Returns whether the
  optimizer should step (RigL skips the step on its update batches).
- ``after_step(step)``: W <- W * M and every optimizer state slot <- slot * M, so neither weight
  decay nor momentum revives a dead weight. Methods that update masks after the optimizer step
  (SET, SNFS, pruning) do it here.

Every method declares its facts as class attributes (``FACTS``); ``kind()`` returns them and a run
records them in metrics.json, so plots and tables ask a run what it is instead of testing names.
A subclass that sets ``name`` is registered (``rigl_np.methods.get``). Dense training is the base
with no masks (every density 1); its masks dict is empty and every hook does nothing to the model.
"""
from __future__ import annotations

from rigl_np import backend, models
from rigl_np.flops import forward_flops
from rigl_np.methods.records import MaskRecords
from rigl_np.rigl import apply_update
from rigl_np.sparsity import density_report, layer_densities, random_masks

REGISTRY = {}        # {name: Method subclass}, filled as the method modules are imported

FACTS = {
    "has_masks": "False: trains a plain dense model (dense, small-dense)",
    "masks_change": "True: the masks change during training",
    "drop_schedule": "True: the mask updates follow the drop-fraction schedule (RigL, SET, ...)",
    "update_phase": "when masks change: 'before_step' (instead of that batch's optimizer step), "
                    "'after_step', or None",
    "dense_baseline": "True: the dense reference every other method is measured against",
}


class Method:
    """A training method: facts, densities, model, masks, trainer hooks, FLOPs and saved state."""

    name = None              # the --method value; setting it registers the class
    has_masks = True
    masks_change = False
    drop_schedule = False
    update_phase = None
    dense_baseline = False
    extra_state = ()         # names of further {layer: array} dicts a checkpoint must hold

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("name"):
            REGISTRY[cls.name] = cls

    def __init__(self, densities: dict, rng, snapshot_every: int = 0):
        self.densities, self.rng, self.snapshot_every = densities, rng, snapshot_every

    # -- what the method is, and what it needs from a configuration ---------------------------
    @classmethod
    def kind(cls) -> dict:
        """The method's facts (``FACTS``) and name, as recorded in metrics.json."""
        return {"name": cls.name, **{fact: getattr(cls, fact) for fact in FACTS}}

    @classmethod
    def layer_densities(cls, cfg, shapes: dict) -> dict:
        """Per-layer densities for ``cfg.distribution`` at global density 1 - ``cfg.sparsity``."""
        first_dense = cfg.distribution == "uniform-first-dense"
        distribution = "uniform" if first_dense else cfg.distribution
        return layer_densities(shapes, 1 - cfg.sparsity, distribution,
                               first_layer_dense=first_dense)

    @classmethod
    def options(cls, cfg, total_steps: int) -> dict:
        """The constructor's keyword arguments that come from a ``SparseConfig`` (here: none)."""
        return {}

    @classmethod
    def from_config(cls, cfg, densities: dict, total_steps: int, rng, snapshot_every: int = 0):
        """The method for a ``SparseConfig`` and a run of ``total_steps`` batches."""
        return cls(densities, rng, snapshot_every=snapshot_every,
                   **cls.options(cfg, total_steps))

    def build_model(self, model_name: str, input_shape, num_classes: int, rng):
        """The model this method trains (``rigl_np.models.build_model``; small-dense narrows it)."""
        self.input_shape, self.width = tuple(input_shape), 1.0
        return models.build_model(model_name, input_shape, num_classes, rng)

    def training_flops(self, flops: dict, densities: dict) -> float:
        """Training FLOPs of one example: 3 f_S (forward, and two backward passes, all sparse)."""
        return 3 * forward_flops(flops, densities)

    def inference_flops(self, flops: dict, densities: dict) -> float:
        """Forward FLOPs of one example at ``densities`` (f_S)."""
        return forward_flops(flops, densities)

    # -- attaching, and the two trainer hooks -------------------------------------------------
    def attach(self, model, optimizer):
        """Draw the masks for ``model``'s sparse layers and apply them to weights and state."""
        self.model, self.optimizer, self.params = model, optimizer, model.params()
        self.shapes = {n: self.params[n].shape for n in model.sparsifiable()}
        sparse = {n: s for n, s in self.shapes.items()
                  if self.has_masks and self.densities[n] < 1}
        self.masks = self.initial_masks(sparse)                    # {name: bool, weight-shaped}
        self.records = MaskRecords(self.masks, self.snapshot_every) if self.has_masks else None
        self.remask()

    def initial_masks(self, shapes: dict) -> dict:
        """Random exact-count masks on the host RNG, moved to the backend."""
        host = random_masks(shapes, self.densities, self.rng)
        return {n: backend.asarray(m) for n, m in host.items()}

    def remask(self) -> None:
        """W <- W * M and optimizer state <- state * M for every sparse layer."""
        for name, mask in self.masks.items():
            self.params[name] *= mask
            self.optimizer.mask_state(name, mask)

    def before_step(self, step, grads) -> bool:
        for name, mask in self.masks.items():
            grads[name] *= mask
        return True

    def after_step(self, step) -> None:
        self.remask()
        if self.records is not None:
            self.records.tick(step, self.masks)

    # -- mask updates: one loop over the layers, one hook per layer --------------------------
    def drop_fraction_at(self, step: int) -> float:
        """The drop fraction recorded for an update at ``step`` (0: a method without one)."""
        return 0.0

    def update_layer(self, name: str, step: int, f: float):
        """One layer's ``rigl.MaskUpdate`` at batch ``step`` and drop fraction ``f``."""
        raise NotImplementedError(f"{type(self).__name__} does not update its masks")

    def update_masks(self, step: int) -> dict:
        """One mask update of every sparse layer at batch ``step``; returns the record."""
        f = self.drop_fraction_at(step)
        layers = {}
        for name in self.masks:
            # 1. the method's update of this layer (drop and grow; SRigL ablates; pruning drops)
            result = self.update_layer(name, step, f)
            # 2. zero-init new connections and their optimizer state; re-mask weights and state
            apply_update(self.params, self.masks, name, result, self.optimizer)
            layers[name] = result.record()
        return self.records.add(step, f, layers, self.masks)

    def summary(self) -> dict:
        """What an epoch's record adds: the real global density and the ITOP rate."""
        if self.records is None:
            return {}
        report = density_report(self.masks, self.shapes)
        return {"global_density": report["global_density"], "itop_rate": self.records.itop_rate()}

    # -- saved state (``rigl_np.checkpoint`` flattens and writes it) --------------------------
    def state(self):
        """(nested dict of arrays, JSON-able meta) that ``load_state`` restores exactly."""
        arrays = {"mask": self.masks, **{attr: getattr(self, attr) for attr in self.extra_state}}
        meta = {"rng": self.rng.bit_generator.state}
        if self.records is not None:
            arrays["records"], meta["records"] = self.records.state()
        return arrays, meta

    def load_state(self, arrays: dict, meta: dict) -> None:
        self.masks = {n: m.astype(bool) for n, m in arrays.get("mask", {}).items()}
        for attr in self.extra_state:
            setattr(self, attr, dict(arrays.get(attr, {})))
        if self.records is not None:
            self.records.load_state(arrays.get("records", {}), meta["records"])
        self.rng.bit_generator.state = meta["rng"]
