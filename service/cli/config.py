"""`dutyd config`: the settings in force."""

from __future__ import annotations

import json

import typer

from service.cli.runner import settings
from service.config import markdown_table

app = typer.Typer(help="Settings.", no_args_is_help=True)


@app.command("show")
def config_show() -> None:
    """Print the settings in force; secrets show only as (set)."""
    typer.echo(json.dumps(settings().public_view(), indent=2, ensure_ascii=False))


@app.command("table")
def config_table() -> None:
    """Print every setting as a Markdown table (for docs/configuration.md)."""
    typer.echo(markdown_table())
