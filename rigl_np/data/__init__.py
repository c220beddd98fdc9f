"""Data sets for rigl_np: finding, verifying and loading them, and batching them for training.

A host-side package: its modules read files into NumPy arrays (the trainer moves batches to the
backend).

``load_dataset(name)`` is the one entry point; it returns a ``Dataset`` of host NumPy arrays
(images uint8 ``(N, C, H, W)``, labels int64 ``(N,)``). Where each piece lives:

| piece                                                | file             |
|------------------------------------------------------|------------------|
| ``Dataset``, ``DataNotFoundError``, ``DataDirError`` | ``dataset.py``   |
| IDX file format (MNIST, Fashion-MNIST)               | ``idx.py``       |
| search order, cache, safe verified download          | ``sources.py``   |
| Fashion-MNIST and MNIST                              | ``mnist.py``     |
| CIFAR-10 (binary version only, no pickles)           | ``cifar10.py``   |
| a synthetic MNIST-shaped set for quick demos         | ``synthetic.py`` |
| normalisation, epoch orders, mini-batches            | ``loader.py``    |

Their base class ``DataError`` lives in ``rigl_np.errors`` (the command boundary gives it exit 1)
and is importable from here too.

This package is host-side: it imports NumPy directly (the trainer moves batches to the backend).
"""
from __future__ import annotations

from pathlib import Path

from . import cifar10, mnist
from .cifar10 import load_cifar10
from .dataset import DataDirError, DataError, DataNotFoundError, Dataset
from .loader import channel_stats, epoch_order, minibatches, normalize, num_batches
from .mnist import FASHION_MNIST, MNIST, load_idx_source
from .synthetic import make_synthetic

DATASETS = ("fashion-mnist", "mnist", "cifar10", "synthetic")
_IDX = {"fashion-mnist": FASHION_MNIST, "mnist": MNIST}


def check_data_dir(name: str, data_dir) -> None:
    """Raise ``DataDirError`` unless ``data_dir`` (a ``--data-dir``) holds data set ``name``.

    ``load_dataset`` searches on past a ``data_dir`` that lacks the files (``sources``); a user
    who names a folder means that copy, so the command line checks it first and says what is
    missing instead of silently training on another copy.
    """
    folder = Path(data_dir).expanduser()
    if not folder.is_dir():
        what = "is a file" if folder.exists() else "does not exist"
        raise DataDirError(f"--data-dir {data_dir} {what}; give the folder that holds the "
                           f"{name} files, or leave --data-dir out to use the usual places")
    if name in _IDX:
        source = _IDX[name]
        found = max((len(mnist.find_files(p)) for p in (folder, folder / source.folder)))
        if found == len(mnist.FILES):
            return
        wanted = ", ".join(f"{base}[.gz]" for base in mnist.FILES.values())
        detail = f"has only {found} of the {len(mnist.FILES)} files" if found else "has none of"
    else:
        places = (folder, folder / "cifar10")
        if any(cifar10.find_batches(p) or (p / cifar10.ARCHIVE).is_file() for p in places):
            return
        wanted = f"{cifar10.ARCHIVE_DIR}/*.bin or {cifar10.ARCHIVE}"
        detail = "has none of"
    raise DataDirError(f"--data-dir {data_dir} (or its {name} subfolder) {detail} {wanted}; "
                       "put the files there, or leave --data-dir out to use the usual places")


def load_dataset(name: str, data_dir=None, download: bool = True) -> Dataset:
    """Load data set ``name`` (one of ``DATASETS``), searching ``data_dir`` first.

    ``download=False`` never touches the network: a data set that is not found raises
    ``DataNotFoundError`` naming every place searched. ``data_dir`` and ``download`` are ignored
    for ``"synthetic"``, which is generated.
    """
    if name == "fashion-mnist":
        return load_idx_source(FASHION_MNIST, data_dir, download)
    if name == "mnist":
        return load_idx_source(MNIST, data_dir, download)
    if name == "cifar10":
        return load_cifar10(data_dir, download)
    if name == "synthetic":
        return make_synthetic()
    raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")


__all__ = ["DATASETS", "DataDirError", "DataError", "DataNotFoundError", "Dataset",
           "channel_stats", "check_data_dir",
           "epoch_order", "load_dataset", "make_synthetic", "minibatches", "normalize",
           "num_batches"]
