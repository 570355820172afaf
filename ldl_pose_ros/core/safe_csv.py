# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""CSV cells that a spreadsheet shows as text, never runs as a formula.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is
read as a formula by spreadsheet programs (CSV or formula injection): a file name,
frame_id or error text taken from the input could then run a formula when a
user opens the report.  :func:`safe_cell` prefixes such a cell with an apostrophe
(``'=cmd`` shows as ``=cmd``); a cell that is a plain number (``-1.5``,
``+2e-3``, ``-inf``) is left as it is, so numeric columns stay numeric.  Text that
cannot be written as UTF-8 (an undecodable file name) is written with escapes.
Every CSV file the tools write for people goes through :func:`safe_writer`.  The
training tree's label format (``core.label_csv``) is the exception: it is read
back by programs, so its one text cell, a relative path, is made safe as a path
(``./`` before it) rather than with an apostrophe.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any, TextIO

#: First characters that make a spreadsheet read a cell as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|nan)", re.IGNORECASE)


def safe_cell(value: object) -> object:
    r"""``value``, with text that a spreadsheet would evaluate prefixed by ``'``.

    Text that is not valid Unicode (a file name's undecodable bytes, which Python
    carries as lone surrogates) is written with those bytes as ``\xNN`` escapes.
    """
    if not isinstance(value, str):
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if not value.startswith(FORMULA_TRIGGERS):
        return value
    if _NUMBER.fullmatch(value):
        return value
    return "'" + value


class SafeWriter:
    """``csv.writer`` whose rows go through :func:`safe_cell`."""

    def __init__(self, f: TextIO, **kwargs: Any) -> None:
        self._w = csv.writer(f, **kwargs)

    def writerow(self, row: Iterable[object]) -> Any:
        """Write one row of cells."""
        return self._w.writerow([safe_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        """Write several rows."""
        for row in rows:
            self.writerow(row)


def safe_writer(f: TextIO, **kwargs: Any) -> SafeWriter:
    """A CSV writer for ``f`` that neutralises formula cells (see the module docstring)."""
    return SafeWriter(f, **kwargs)
