"""rigl_np: RigL ("Rigging the Lottery", Evci et al. 2020) and dynamic sparse training in NumPy.

What rigl_np implements, rule by rule, is written down in the repository's docs/semantics.md.
Stable entry points other implementations are checked against: ``rigl_np.sparsity.layer_densities``,
``rigl_np.rigl.rigl_update``, ``rigl_np.rigl.drop_fraction``, ``rigl_np.srigl.srigl_update``,
``rigl_np.srigl.CondensedLinear``, ``rigl_np.functional``, ``rigl_np.exercises.check``, and the
command line ``python -m rigl_np train | compare | plot | verify``.
"""
__version__ = "0.1.0"
