"""The report's words, from words.yaml."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml


@cache
def _words() -> dict[str, Any]:
    return yaml.safe_load((Path(__file__).parent / "words.yaml").read_text(encoding="utf-8"))


def word(key: str, language: str) -> str:
    entry: Any = _words()
    for part in key.split("."):
        entry = entry[part]
    return str(entry[language])
