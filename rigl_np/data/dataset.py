"""The ``Dataset`` record every loader returns, and the errors every loader raises.

A data set here is four host arrays and a little metadata, nothing lazy: images as ``uint8``
``(N, C, H, W)`` (NCHW, the layout the whole project uses) and labels as ``int64`` ``(N,)``. The
trainer normalises with ``loader.normalize`` and moves mini-batches to the backend itself.

Errors are part of the interface:
- ``DataError`` (a ``ValueError``; defined in ``rigl_np.errors`` with the other exceptions the
  command boundary knows): a file is there but wrong (bad magic number, wrong dims, truncated
  payload, labels out of range, checksum mismatch). The message names the file and what to do,
  so a user never sees a NumPy traceback for a bad file.
- ``DataNotFoundError`` (a ``DataError`` and a ``FileNotFoundError``): the data is nowhere to be
  found and could not be downloaded. The message names every place searched and how to get it,
  in its last line.
- ``DataDirError`` (a ``DataError`` and a ``rigl_np.errors.UsageError``): the ``--data-dir`` the
  user gave does not hold the data set (``rigl_np.data.check_data_dir``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rigl_np.errors import DataError, UsageError


class DataNotFoundError(DataError, FileNotFoundError):
    """The data set is in none of the searched places and could not be downloaded."""


class DataDirError(DataError, UsageError):
    """The ``--data-dir`` given does not hold the data set (bad input: exit 2)."""


@dataclass
class Dataset:
    """One image-classification data set, held on the host."""

    name: str              # registry name: "fashion-mnist", "mnist", "cifar10", "synthetic"
    train_x: np.ndarray    # (N_train, C, H, W) uint8
    train_y: np.ndarray    # (N_train,) int64, values in [0, num_classes)
    test_x: np.ndarray     # (N_test, C, H, W) uint8
    test_y: np.ndarray     # (N_test,) int64
    num_classes: int       # number of classes, len(classes)
    classes: tuple         # class names, index = label
    source: str = ""       # where the arrays came from (a folder, or "generated"), for run logs

    @property
    def input_shape(self) -> tuple:
        """The shape of one example, ``(C, H, W)``."""
        return tuple(self.train_x.shape[1:])

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, train={len(self.train_y)}, test={len(self.test_y)}, "
                f"input_shape={self.input_shape}, num_classes={self.num_classes}, "
                f"source={self.source!r})")


def check_split(x: np.ndarray, y: np.ndarray, num_classes: int, where: str) -> None:
    """Check one split's images and labels agree; raise ``DataError`` naming ``where`` if not.

    ``x`` must be ``uint8`` with a leading example axis, ``y`` one label per example, every label
    in ``[0, num_classes)``.
    """
    if x.dtype != np.uint8:
        raise DataError(f"{where}: images should be unsigned bytes (uint8), found {x.dtype}")
    if y.ndim != 1:
        raise DataError(f"{where}: labels should be one-dimensional, found shape {y.shape}")
    if len(x) != len(y):
        raise DataError(f"{where}: {len(x)} images but {len(y)} labels; the files do not belong "
                        "together")
    if len(y) and (y.min() < 0 or y.max() >= num_classes):
        raise DataError(f"{where}: labels must lie in [0, {num_classes}), found values from "
                        f"{int(y.min())} to {int(y.max())}")
