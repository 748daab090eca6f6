"""Importers: existing benchmark output -> a pmcsuite result directory (docs/DESIGN.md).

- :func:`import_l41` reads the Cambridge L41 IPC benchmark's own output (2015-2020 ``ipc-static``
  text, 2020-2023 ``ipc-benchmark -j`` JSON), placed by an optional manifest.
- :func:`import_csv` reads the documented tidy CSV (docs/import-csv.md).

Both parse everything first (pure functions) and write the directory only when every input is
valid, so a bad file never leaves a half-written result directory behind.

What both share (catalogue access, file hashing, the metadata skeleton, writing the directory) is
in :mod:`.base`.
"""
from .l41 import import_l41, parse_l41_json, parse_l41_text
from .tidy_csv import import_csv

__all__ = ["import_l41", "import_csv", "parse_l41_text", "parse_l41_json"]
