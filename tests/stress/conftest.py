"""Make the top-level ``stress`` package importable whatever pytest's rootdir is.

(This directory deliberately has no ``__init__.py``: as a package it would be
named ``stress`` too and shadow the suite it tests.)
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
