"""Write many rows in one statement.

asyncpg runs an executemany as one server-side execution per row (about 50 µs each on
PostgreSQL, plus SQLAlchemy's per-row parameter handling in Python). On PostgreSQL these
helpers send each column as one array and let `unnest` turn the arrays back into rows, so
a batch of a thousand rows is one statement with a handful of parameters. SQLite runs an
executemany in-process at no such cost, so there they are a plain executemany.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable
from sqlalchemy.sql.selectable import TableValuedAlias

Rows = Sequence[Mapping[str, Any]]


def _unnest(table: Table, columns: list[str], rows: Rows) -> TableValuedAlias:
    arrays = [
        bindparam(f"bulk_{name}", [row[name] for row in rows], type_=ARRAY(table.c[name].type))
        for name in columns
    ]
    return func.unnest(*arrays).table_valued(*columns).render_derived(name="bulk")


def _split_same(rows: Rows, columns: list[str], keep: str) -> tuple[list[str], dict[str, Any]]:
    """Columns whose value is the same in every row are sent once, not as an array (asyncpg
    checks each array element in Python); `keep` stays an array so that there is one."""
    varying: list[str] = []
    same: dict[str, Any] = {}
    for name in columns:
        first = rows[0][name]
        if name != keep and all(
            type(row[name]) is type(first) and row[name] == first for row in rows
        ):
            same[name] = first
        else:
            varying.append(name)
    return varying, same


def _value(table: Table, name: str, value: Any) -> ColumnElement[Any]:
    return bindparam(f"bulk_same_{name}", value, type_=table.c[name].type)


def _is_postgres(session: AsyncSession | Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def among(
    session: AsyncSession | Session, column: ColumnElement[Any], values: Collection[Any]
) -> ColumnElement[bool]:
    """`column IN values`. On PostgreSQL `= ANY(array)`: one parameter, not one per value,
    and the same SQL text for any number of values, so its prepared statement is reused."""
    if _is_postgres(session):
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)


def insert_statement(
    session: AsyncSession | Session, table: Table, rows: Rows
) -> tuple[Executable, Rows | None]:
    """An INSERT of `rows` (dicts with the same keys) and its parameters, for either session."""
    if not _is_postgres(session) or len(rows) < 2:
        return table.insert(), rows
    columns = list(rows[0])
    varying, same = _split_same(rows, columns, keep=columns[0])
    values = _unnest(table, varying, rows)
    selected = (values.c[c] if c in varying else _value(table, c, same[c]) for c in columns)
    return table.insert().from_select(columns, select(*selected)), None


async def insert_rows(session: AsyncSession, table: Table, rows: Rows) -> None:
    if rows:
        statement, parameters = insert_statement(session, table, rows)
        await session.execute(statement, parameters)


async def update_rows(
    session: AsyncSession,
    table: Table,
    rows: Rows,
    *,
    same: Mapping[str, Any] | None = None,
    where: Sequence[ColumnElement[bool]] = (),
    key: str = "id",
) -> None:
    """Set each row's values on the row whose `key` matches, and `same` on all of them."""
    if not rows:
        return
    columns = [name for name in rows[0] if name != key]
    if not _is_postgres(session):
        await session.execute(
            table.update()
            .where(table.c[key] == bindparam(f"bulk_{key}"), *where)
            .values({name: bindparam(f"bulk_{name}") for name in columns} | dict(same or {})),
            [{f"bulk_{name}": value for name, value in row.items()} for row in rows],
        )
        return
    varying, constant = _split_same(rows, [key, *columns], keep=key)
    values = _unnest(table, varying, rows)
    await session.execute(
        table.update()
        .where(table.c[key] == values.c[key], *where)
        .values(
            {name: values.c[name] for name in varying if name != key}
            | {name: _value(table, name, value) for name, value in constant.items()}
            | dict(same or {})
        )
    )
