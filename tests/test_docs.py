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
    from service.config import markdown_table

    assert markdown_table() in text, "regenerate the table with `dutyd config table`"


def test_readme_starts_with_the_two_commands() -> None:
    """The README's first commands run the daemon and the tests; CI calls the second."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert readme.index("./scripts/serve") < readme.index("./scripts/test")
    assert "exec scripts/test" in (REPO / ".ci" / "run").read_text(encoding="utf-8")
