"""Safe YAML reading that remembers where every value stands, for errors a person can act on.

Only plain YAML is accepted: the standard scalar, list and map tags, bounded size, depth
and node count (so alias bombs are refused), no custom tags.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

MAX_YAML_BYTES = 2_000_000
MAX_DEPTH = 40
MAX_NODES = 200_000
ModelT = TypeVar("ModelT", bound=BaseModel)

_STANDARD_TAGS = {
    f"tag:yaml.org,2002:{name}"
    for name in ("map", "seq", "str", "int", "float", "bool", "null", "timestamp")
}
Path_ = tuple[str | int, ...]


class YamlProblem(Exception):
    """Raised by read_yaml and load_model; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
        self.message = "\n".join(problems)


@dataclass
class Document:
    """Parsed YAML plus the line and column (1-based) of each value and each map key."""

    path: Path
    data: Any
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def where(self, location: Path_, *, key: bool = False) -> str:
        """`file:line:col` of the nearest known position at or above `location`."""
        table = self.keys if key else self.values
        for end in range(len(location), -1, -1):
            prefix = tuple(location[:end])
            mark = table.get(prefix) or self.values.get(prefix)
            if mark:
                return f"{self.path}:{mark[0]}:{mark[1]}"
        return str(self.path)

    def problem(self, location: Path_, message: str, *, key: bool = False) -> str:
        dotted = ".".join(str(p) for p in location) or "(document)"
        return f"{self.where(location, key=key)}: at {dotted}: {message}"


class _Builder:
    def __init__(self, document: Document) -> None:
        self.document = document
        self.loader = yaml.SafeLoader("")
        self.nodes = 0

    def build(self, node: yaml.Node, path: Path_, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise YamlProblem(
                [
                    f"{self.document.path}: document too large (over {MAX_NODES} "
                    "values; aliases expanding into many copies count each copy)"
                ]
            )
        if depth > MAX_DEPTH:
            raise YamlProblem(
                [f"{self.document.where(path)}: nested deeper than {MAX_DEPTH} levels"]
            )
        mark = node.start_mark
        self.document.values[path] = (mark.line + 1, mark.column + 1)
        if node.tag not in _STANDARD_TAGS:
            raise YamlProblem(
                [
                    f"{self.document.path}:{mark.line + 1}:{mark.column + 1}: tag {node.tag!r} "
                    "is not allowed; plans use plain YAML values only"
                ]
            )
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise YamlProblem([f"{self.document.where(path)}: map keys must be plain text"])
                key = self.loader.construct_object(key_node)
                if key in result:
                    k = key_node.start_mark
                    raise YamlProblem(
                        [
                            f"{self.document.path}:{k.line + 1}:{k.column + 1}: key {key!r} "
                            "appears twice in the same map"
                        ]
                    )
                k = key_node.start_mark
                self.document.keys[(*path, key)] = (k.line + 1, k.column + 1)
                result[key] = self.build(value_node, (*path, key), depth + 1)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        return self.loader.construct_object(node)


def parse_yaml(text: str, path: Path) -> Document:
    """Parse one YAML document; raise YamlProblem naming the place of anything wrong."""
    if len(text.encode("utf-8", errors="replace")) > MAX_YAML_BYTES:
        raise YamlProblem([f"{path}: file is larger than {MAX_YAML_BYTES} bytes"])
    document = Document(path=path, data=None)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is not None:
            document.data = _Builder(document).build(node, (), 0)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise YamlProblem([f"{where}: YAML syntax error: {exc.problem or exc.context}"]) from None
    except yaml.YAMLError as exc:
        raise YamlProblem([f"{path}: YAML error: {exc}"]) from None
    except RecursionError:
        raise YamlProblem([f"{path}: nested too deeply to read"]) from None
    except (ValueError, TypeError, OverflowError) as exc:
        # e.g. a timestamp-looking value that is no real date: 2026-13-45
        raise YamlProblem([f"{path}: unreadable value: {exc}"]) from None
    return document


def read_yaml_document(path: Path) -> Document:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise YamlProblem([f"{path}: cannot read: {exc.strerror}"]) from None
    if len(raw) > MAX_YAML_BYTES:
        raise YamlProblem([f"{path}: file is {len(raw)} bytes; the limit is {MAX_YAML_BYTES}"])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlProblem([f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"]) from None
    return parse_yaml(text, path)


def read_yaml(path: Path) -> Any:
    return read_yaml_document(path).data


def _describe_input(value: Any) -> str:
    if isinstance(value, dict):
        return "a map"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _data_path(data: Any, loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    """The path in the document an error's location names, without what pydantic adds
    (a tagged union's tag, '[key]'): a name that is not a key there and not the last."""
    path: list[str | int] = []
    parts = [p for p in loc if isinstance(p, str | int) and p != "[key]"]
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if isinstance(data, dict) and part not in data and not last:
            continue
        path.append(part)
        data = data.get(part) if isinstance(data, dict) else _item(data, part)
    return tuple(path)


def _item(data: Any, part: str | int) -> Any:
    if isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
        return data[part]
    return None


def validation_problems(document: Document, exc: ValidationError) -> list[str]:
    """One line per pydantic error: file:line:col, path inside the document, found, expected."""
    problems = []
    for err in exc.errors():
        location = _data_path(document.data, err["loc"])
        if err["type"] == "extra_forbidden":
            problems.append(document.problem(location, "unknown key", key=True))
            continue
        message = err["msg"].removeprefix("Value error, ").replace("Input should be ", "expected ")
        if err["type"] == "missing":
            problems.append(document.problem(location, "required key is missing"))
            continue
        found = _describe_input(err.get("input"))
        if "found" not in message:
            message = f"{message} (found {found})"
        problems.append(document.problem(location, message))
    return problems


def load_model(path: Path, model: type[ModelT]) -> ModelT:
    """Read a YAML file into a model; raise YamlProblem listing every problem."""
    document = read_yaml_document(path)
    try:
        return model.model_validate(document.data)
    except ValidationError as exc:
        raise YamlProblem(validation_problems(document, exc)) from None
