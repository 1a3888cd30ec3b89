"""Documentation that must keep up with the code."""

from __future__ import annotations

from service.config import Settings
from tests.conftest import REPO


def test_every_setting_is_documented() -> None:
    """docs/configuration.md names every setting and its environment variable."""
    text = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"`{name}`" in text, name
        assert f"`DUTYD_{name.upper()}`" in text, name
    from service.cli.config import markdown_table

    assert markdown_table() in text, "regenerate the table with `dutyd config table`"


def test_readme_starts_with_the_two_commands() -> None:
    """The README's first commands run the daemon and the tests; CI calls the second."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert readme.index("./scripts/serve") < readme.index("./scripts/test")
    assert "exec scripts/test" in (REPO / ".ci" / "run").read_text(encoding="utf-8")


def plan_keys() -> set[str]:
    """Every key the plan language accepts, in every model a plan file is made of."""
    from pydantic import BaseModel

    from service.plans.models import EscalationAppend, PlanDocument

    keys: set[str] = set()
    seen: set[type[BaseModel]] = set()
    todo: list[type[BaseModel]] = [PlanDocument, EscalationAppend]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            keys.add(name)
            todo.extend(_models_in(field.annotation))
    return keys


def _models_in(annotation: object) -> list[type]:
    from typing import get_args

    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def test_every_plan_key_is_documented() -> None:
    """docs/plans.md names every key a plan file may use (e.g. `late_escalation`)."""
    text = (REPO / "docs" / "plans.md").read_text(encoding="utf-8")
    keys = plan_keys()
    assert {"late_escalation", "chain", "after", "on_change", "casualty_levels"} <= keys
    missing = sorted(k for k in keys if f"`{k}`" not in text)
    assert missing == [], f"undocumented plan keys: {missing}"
