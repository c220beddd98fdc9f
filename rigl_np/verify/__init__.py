"""Verification of other dynamic-sparse-training implementations against rigl_np.

Host-side code: it reads files and may use NumPy directly.

``python -m rigl_np verify PATH [PATH ...] [--json] [convention options]`` reads ``.npz`` dumps
of another implementation's mask updates (one layer or a whole model per file), layer densities
or update schedule, and says per layer and update whether it is right: ``identical``,
``equivalent`` (ties), ``explained`` (by named conventions, with the option that selects each)
or ``differs`` (which rule, where). docs/verify.md documents the format and every convention.

- schema.py: every key a file may hold (the tables --help and the docs are made from; which
  methods it may name, and their keys, from the method registry);
- fileformat.py: lazy, validated reading of .npz members (headers first, no pickles);
- layers.py: single-layer vs whole-model files, one ``Problem`` per layer;
- layout.py: the two memory layouts, and the views that make them tie orders;
- conventions.py: the convention switches, the cause codes, the k-rounding rules, a ``Trial``;
- families/: how a method is reproduced, one family per mask structure (``Method.verification``
  says a method can be verified, its ``structure`` picks the family): ``drop_grow.py`` (RigL,
  SET, SNFS: the library's ``rigl.drop_and_grow`` with the switches turned) and ``fan_in.py``
  (SRigL: ``srigl.ablation`` and ``srigl.grow_to_fan_in``); each returns a ``masks.MaskUpdate``,
  the record the trainer's updates return;
- ties.py: tie attribution (scores that prefer the other side's choice among equals);
- search.py: the pruned search over conventions, and the closest trial for a diagnosis;
- rules.py: the weight and optimizer-state rules, on the other implementation's mask;
- classify.py: the verdict and causes of one layer update; phrases.py: its detail, in words;
- redistribute.py: growth counts moved across layers (SNFS's momentum share), on a whole model;
- densities.py, schedule.py: files of layer densities and of update schedules;
- report.py: the text lines, the JSON object, the exit code;
- main.py: the command (files and folders, options, errors);
- save.py: ``save_update(path, layout=..., **arrays)`` from any framework;
- vectors.py: ``python -m rigl_np vectors OUT_DIR``, conformance vectors for other projects' CI.

No method name is tested here: a method the registry adds is checked by its family.
"""
from rigl_np.verify.fileformat import InputError
from rigl_np.verify.main import verify_paths
from rigl_np.verify.save import save_update

__all__ = ["InputError", "save_update", "verify_paths"]
