"""Where data files are looked for, and how a missing file is downloaded safely.

Search order (docs/semantics.md "Data"), for a data set stored in folder ``FOLDER``:
1. the ``data_dir`` given (``--data-dir``): the folder itself, then ``data_dir/FOLDER``;
2. ``$RIGL_NP_DATA/FOLDER`` when the environment variable is set (pointing at a file is an
   error, not a place to skip);
3. the user cache ``$XDG_CACHE_HOME/rigl_np/FOLDER`` (``~/.cache/rigl_np/FOLDER`` by default);
4. a system folder where a distribution package puts it, if the data set has one (Fashion-MNIST:
   ``/usr/share/datasets/fashion-mnist`` from the Debian/Ubuntu package dataset-fashion-mnist).
The first folder that holds every file wins. Only when none does is anything downloaded, and
always into the user cache.

A download never leaves a half-written or unverified file where a later run would find it:
1. lock the destination folder (two runs downloading at once take turns, and the second finds the
   file in place) and delete the ``.part`` files a killed download left there;
2. fetch into a temporary file in the destination folder (hidden name, ``.part`` suffix);
3. run the data set's check on it (checksum and format); any failure (Ctrl-C included) deletes
   the temporary file;
4. rename it onto the final name, atomically (``rigl_np.atomic``).
``fetch_url`` is the only function that touches the network; tests replace it.
"""
from __future__ import annotations

import hashlib
import os
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from rigl_np.atomic import atomic_file, lock_folder, remove_stale

from .dataset import DataDirError, DataError

DOWNLOAD_TIMEOUT_S = 60  # seconds without data before a download gives up


@dataclass(frozen=True)
class Place:
    """One folder that is searched, and why (shown in the not-found message)."""

    path: Path | None   # None: the place is not configured (e.g. RIGL_NP_DATA unset)
    label: str          # e.g. "--data-dir", "$RIGL_NP_DATA/fashion-mnist", "user cache"


def cache_root() -> Path:
    """The user cache for rigl_np: ``$XDG_CACHE_HOME/rigl_np``, else ``~/.cache/rigl_np``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rigl_np"


def search_places(folder: str, data_dir=None, system_dir=None) -> list[Place]:
    """The folders searched for data set ``folder``, in order (see the module docstring)."""
    places = []
    if data_dir is not None:
        data_dir = Path(data_dir).expanduser()
        places += [Place(data_dir, "--data-dir"), Place(data_dir / folder, "--data-dir")]
    env = os.environ.get("RIGL_NP_DATA")
    if env:
        for path in (Path(env).expanduser(), Path(env).expanduser() / folder):
            if path.exists() and not path.is_dir():     # a mistake, not a place to skip
                raise DataDirError(f"RIGL_NP_DATA={env}: {path} is not a folder; point "
                                   f"RIGL_NP_DATA at the folder that holds {folder}/, or unset it")
    places.append(Place(Path(env).expanduser() / folder if env else None,
                        f"$RIGL_NP_DATA/{folder}"))
    places.append(Place(cache_root() / folder, "user cache"))
    if system_dir is not None:
        places.append(Place(Path(system_dir), "system data folder"))
    return places


def describe_places(places: list[Place], notes: dict | None = None) -> str:
    """One indented line per place, for error messages; ``notes`` adds text per path."""
    notes = notes or {}
    lines = []
    for place in places:
        if place.path is None:
            lines.append(f"  {place.label} (not set)")
        else:
            extra = notes.get(place.path, "" if place.path.is_dir() else "does not exist")
            lines.append(f"  {place.path} ({place.label}{'; ' + extra if extra else ''})")
    return "\n".join(lines)


def fetch_url(url: str, out) -> None:
    """Copy the body of ``url`` into the open binary file ``out``. The only network access."""
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
        while chunk := response.read(1 << 20):
            out.write(chunk)


def file_digest(path, algorithm: str) -> str:
    """Hex digest (``"md5"`` or ``"sha256"``) of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def check_digest(data_or_path, algorithm: str, expected: str, name: str, advice: str) -> None:
    """Raise ``DataError`` naming ``name`` unless the bytes' (or file's) digest is ``expected``."""
    if isinstance(data_or_path, (bytes, bytearray)):
        found = hashlib.new(algorithm, data_or_path).hexdigest()
    else:
        found = file_digest(data_or_path, algorithm)
    if found != expected:
        raise DataError(f"{name}: {algorithm.upper()} checksum mismatch (expected {expected}, "
                        f"found {found}); {advice}")


def download(urls, dest: Path, check) -> list[str]:
    """Download the first of ``urls`` that answers into ``dest``, verified by ``check(path, name)``.

    Returns the list of failures (one line per URL that could not be fetched) when no URL
    answered, and an empty list on success. A file that arrives but fails ``check`` is deleted
    and its ``DataError`` propagates: a wrong file is an error, not a reason to try another host.
    """
    with lock_folder(dest.parent, "data cache", wait=True):
        remove_stale(dest.parent)
        if dest.is_file():             # another run downloaded it while this one waited
            return []
        return _download(urls, dest, check)


def _download(urls, dest: Path, check) -> list[str]:
    """``download`` once the destination folder is locked."""
    failures = []
    for url in urls:
        def verified(tmp, url=url):
            try:
                check(tmp, dest.name)
            except DataError as err:
                raise DataError(f"download from {url} failed verification: {err}. Nothing was "
                                f"saved in {dest.parent}; try again later (a proxy or captive "
                                "portal may have answered instead of the server), or fetch the "
                                "file by hand and pass its folder with --data-dir") from None

        # 2. Fetch into a hidden temporary file beside the destination; 3. verify it; 4. move it
        #    into place atomically (rigl_np.atomic).
        print(f"rigl_np: downloading {url} -> {dest}", file=sys.stderr)
        try:
            with atomic_file(dest, suffix=".part", verify=verified) as out:
                fetch_url(url, out)
        except DataError:
            raise
        except Exception as err:  # URLError, timeouts, HTTP errors, a broken connection
            failures.append(f"  {url}: {err}")
            continue
        return []
    return failures
