"""Rectification maps kept in files, so a one-shot ``manage.py inspect`` does not rebuild them.

Building the maps of a 2448x2048 station takes 0.4-0.6 s, longer than inspecting a photo; a worker
keeps them in memory (:func:`vision.pipeline.inspect.get_maps`), a process that inspects one photo
and exits loads them from here instead. Files are named by the calibration's fingerprint, height and
scale, so a new calibration never reads an old map; the oldest files beyond ``keep`` are removed.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from vision.pipeline.rectify import RectifyMaps

FIELDS = ("map1", "map2", "valid")


class FileMapStore:
    """A :class:`vision.pipeline.MapStore` in ``directory`` (created when first written)."""

    def __init__(self, directory: Path, *, keep: int = 8):
        self.directory = Path(directory)
        self.keep = keep

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.npz"

    def load(self, key: str) -> RectifyMaps | None:
        """The maps saved under ``key``, or None when absent or unreadable (they are then rebuilt)."""
        try:
            with np.load(self._path(key), allow_pickle=False) as data:
                arrays = {name: data[name] for name in FIELDS}
                origin = tuple(float(v) for v in data["origin_mm"])
                scale, height = float(data["mm_per_px"]), float(data["height_mm"])
        except (OSError, KeyError, ValueError, zipfile.BadZipFile):
            return None
        return RectifyMaps(arrays["map1"], arrays["map2"], arrays["valid"], origin, scale, height)

    def save(self, key: str, maps: RectifyMaps) -> None:
        """Write ``maps`` under ``key`` (atomically: a reader never sees half a file). A directory that
        cannot be written is no error: the maps are then built again next time."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.directory, suffix=".tmp", delete=False) as handle:
                np.savez(
                    handle,
                    map1=maps.map1,
                    map2=maps.map2,
                    valid=maps.valid,
                    origin_mm=np.asarray(maps.origin_mm, float),
                    mm_per_px=maps.mm_per_px,
                    height_mm=maps.height_mm,
                )
            os.replace(handle.name, self._path(key))
            self._prune()
        except OSError:
            return

    def _prune(self) -> None:
        files = sorted(self.directory.glob("*.npz"), key=lambda path: path.stat().st_mtime, reverse=True)
        for old in files[self.keep :]:
            old.unlink(missing_ok=True)
