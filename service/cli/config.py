"""`dutyd config`: the settings in force."""

from __future__ import annotations

import json

import typer

from service.cli.runner import settings
from service.config import SECRET_SETTINGS, Settings


def markdown_table() -> str:
    """Every setting as a Markdown table row: the source of docs/configuration.md's table."""
    lines = ["| setting | environment variable | default | meaning |", "|---|---|---|---|"]
    for name, info in Settings.model_fields.items():
        default = "—" if info.default is None else f"`{info.default}`"
        secret = " **Secret**." if name in SECRET_SETTINGS else ""
        meaning = (info.description or "").replace(" Secret: environment or secrets file only.", "")
        lines.append(f"| `{name}` | `DUTYD_{name.upper()}` | {default} | {meaning}{secret} |")
    return "\n".join(lines)


app = typer.Typer(help="Settings.", no_args_is_help=True)


@app.command("show")
def config_show() -> None:
    """Print the settings in force; secrets show only as (set)."""
    typer.echo(json.dumps(settings().public_view(), indent=2, ensure_ascii=False))


@app.command("table")
def config_table() -> None:
    """Print every setting as a Markdown table (for docs/configuration.md)."""
    typer.echo(markdown_table())
