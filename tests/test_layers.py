"""The layer contract: imports under service/ only point down (docs/architecture.md).

Every import counts, at module level or inside a function, under TYPE_CHECKING or not:
a lower layer that reaches up, even lazily, is the start of the next import loop.
Packages in one layer are independent of each other unless the layer says otherwise.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SERVICE = Path(__file__).resolve().parent.parent / "service"

# Lowest first. A module may import its own package, anything in a lower layer, and
# nothing else. Alembic's migration scripts are loaded by Alembic, not imported.
LAYERS: list[tuple[str, ...]] = [
    # kernel: what every part of dutyd may use
    (
        "service",
        "service.catalog",
        "service.clock",
        "service.config",
        "service.durations",
        "service.errors",
        "service.logs",
        "service.metrics",
        "service.process",
        "service.yamlfile",
        "service.texts",
    ),
    ("service.store",),
    ("service.audit",),
    ("service.auth",),
    ("service.roster",),
    ("service.plans", "service.runtime"),
    ("service.notify",),
    ("service.incidents",),
    (
        "service.escalation",
        "service.reports",
        "service.warnings",
        "service.intake",
        "service.instructions",
        "service.spotchecks",
        "service.drills",
        "service.bulletin",
    ),
    ("service.office",),
    ("service.flows",),
    ("service.app", "service.in_force", "service.passes", "service.schema"),
    ("service.api", "service.web"),
    ("service.cli",),
    ("service.__main__",),
]
KERNEL = set(LAYERS[0])
# Within a layer, which units may import which (otherwise: none of each other).
SAME_LAYER_ALLOWED: set[tuple[str, str]] = {
    ("service.plans", "service.runtime"),
    ("service.runtime", "service.plans"),
    ("service.api", "service.web"),  # the API's application mounts the console
    ("service.app", "service.in_force"),  # what is in force is a part of the daemon
    ("service.app", "service.passes"),  # so is when its engine runs
}
SKIPPED = ("service/store/migrations/",)


def unit_of(module: str) -> str:
    """The layer unit a dotted module name belongs to: the longest listed prefix."""
    best = ""
    for layer in LAYERS:
        for unit in layer:
            if (module == unit or module.startswith(unit + ".")) and len(unit) > len(best):
                best = unit
    if not best:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS in {__file__}")
    return best


def layer_of(unit: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if unit in layer)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SERVICE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> list[tuple[str, int]]:
    """Every `service.*` module imported by the file, with the line."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = (
        module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    )
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append((target, node.lineno))
            # `from service.flows import incidents` imports the module service.flows.incidents
            found += [(f"{target}.{alias.name}", node.lineno) for alias in node.names]
    return [
        (name, line) for name, line in found if name == "service" or name.startswith("service.")
    ]


def service_files() -> list[Path]:
    return [
        path
        for path in sorted(SERVICE.rglob("*.py"))
        if not any(part in path.as_posix() for part in SKIPPED)
    ]


def existing_module(name: str) -> str | None:
    """`name` if it is a module or package under service/ (not a name inside one)."""
    relative = Path(*name.split("."))
    root = SERVICE.parent
    if (root / relative).with_suffix(".py").exists() or (root / relative / "__init__.py").exists():
        return name
    return None


def import_graph() -> dict[str, list[tuple[str, str, int]]]:
    """For each file's unit: (imported unit, file, line) for each import of another unit."""
    graph: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for path in service_files():
        source = unit_of(module_name(path))
        for name, line in imports_of(path):
            module = existing_module(name)
            if module is None or module == "service":
                continue
            target = unit_of(module)
            if target != source:
                graph[source].append((target, path.relative_to(SERVICE.parent).as_posix(), line))
    return graph


def test_every_import_points_down() -> None:
    """No module imports a higher layer, or a package beside it in its own layer."""
    wrong = []
    for source, edges in import_graph().items():
        for target, file, line in edges:
            up = layer_of(target) > layer_of(source)
            beside = (
                layer_of(target) == layer_of(source)
                and (source, target) not in SAME_LAYER_ALLOWED
                and not {source, target} <= KERNEL  # the kernel's modules are one unit
            )
            if up or beside:
                how = "up to" if up else "beside it to"
                wrong.append(f"{file}:{line}: {source} imports {how} {target}")
    assert not wrong, "imports against the layers:\n" + "\n".join(sorted(wrong))


def test_no_import_cycle_between_packages() -> None:
    """The packages under service/ form no import cycle, however long."""
    graph = {source: {target for target, _, _ in edges} for source, edges in import_graph().items()}
    visiting: list[str] = []
    done: set[str] = set()

    def visit(unit: str) -> None:
        if unit in done:
            return
        if unit in visiting:
            cycle = [*visiting[visiting.index(unit) :], unit]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        visiting.append(unit)
        for target in sorted(graph.get(unit, ())):
            visit(target)
        visiting.pop()
        done.add(unit)

    for unit in sorted(graph):
        visit(unit)


def test_the_contract_catches_a_back_arrow(tmp_path: Path) -> None:
    """The check itself: an import from store up to incidents is reported."""
    rogue = SERVICE / "store" / "_layer_probe.py"
    rogue.write_text("from service.incidents.tables import IncidentRow  # noqa: F401\n")
    try:
        edges = import_graph()["service.store"]
        assert ("service.incidents", "service/store/_layer_probe.py", 1) in edges
    finally:
        rogue.unlink()


def test_no_service_file_is_long() -> None:
    """Files stay around a few hundred lines, one idea each (none over 400)."""
    long = [
        f"{path.relative_to(SERVICE.parent)}: {count} lines"
        for path in service_files()
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > 400
    ]
    assert not long, "\n".join(long)
