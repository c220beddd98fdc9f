"""rigl_np: RigL ("Rigging the Lottery", Evci et al. 2020) and dynamic sparse training in NumPy.

Entry points other implementations are checked against (see ../shared/SPEC.md):
``rigl_np.sparsity.layer_densities``, ``rigl_np.rigl.rigl_update``, ``rigl_np.rigl.drop_fraction``,
``rigl_np.srigl.srigl_update``, ``rigl_np.srigl.CondensedLinear``, ``rigl_np.functional``, and the
command line ``python -m rigl_np train | compare | plot | check-update``.
"""
__version__ = "0.1.0"
