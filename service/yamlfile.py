"""Safe YAML reading with errors that name file, line and column."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

MAX_YAML_BYTES = 2_000_000
ModelT = TypeVar("ModelT", bound=BaseModel)


class YamlProblem(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def read_yaml(path: Path) -> Any:
    """Parse one YAML document with the safe loader; raise YamlProblem naming the place."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise YamlProblem(f"{path}: cannot read: {exc.strerror}") from None
    if len(raw) > MAX_YAML_BYTES:
        raise YamlProblem(f"{path}: file is {len(raw)} bytes; the limit is {MAX_YAML_BYTES}")
    try:
        return yaml.safe_load(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise YamlProblem(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise YamlProblem(f"{where}: YAML syntax error: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise YamlProblem(f"{path}: YAML error: {exc}") from None


def validation_problems(path: Path, exc: ValidationError) -> list[str]:
    """One readable line per pydantic error: file, path inside the document, what is wrong."""
    problems = []
    for err in exc.errors():
        location = ".".join(str(part) for part in err["loc"]) or "(document)"
        found = err.get("input")
        found_text = "" if isinstance(found, dict | list) else f" (found {found!r})"
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        problems.append(f"{path}: at {location}: {message}{found_text}")
    return problems


def load_model(path: Path, model: type[ModelT]) -> ModelT:
    """Read a YAML file into a model; raise YamlProblem listing every problem."""
    data = read_yaml(path)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise YamlProblem("\n".join(validation_problems(path, exc))) from None
