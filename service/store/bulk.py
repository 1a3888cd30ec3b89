"""Write many rows in one statement.

asyncpg runs an executemany as one server-side execution per row (about 50 µs each on
PostgreSQL, plus SQLAlchemy's per-row parameter handling in Python). On PostgreSQL these
helpers send each column as one array and let `unnest` turn the arrays back into rows, so
a batch of a thousand rows is one statement with a handful of parameters. A few rows, and
anything on SQLite (which runs an executemany in-process at no such cost), go as a plain
executemany.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, Table, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable
from sqlalchemy.sql.selectable import TableValuedAlias
from sqlalchemy.types import TypeEngine

from service.store.database import is_postgres

Rows = Sequence[Mapping[str, Any]]
# Below this many rows building the array statement costs Python more than the executions
# it saves (an incident's handful of timeline entries, say).
ARRAYS_FROM_ROWS = 20
# Values sent once for all rows when every row has the same one. Not containers: JSON
# {"a": True} == {"a": 1}, yet they are different values.
_SCALARS = (str, int, float, bool, datetime, type(None))


def _array_of(column_type: TypeEngine[Any]) -> ARRAY[Any]:
    # A string array is cast without the column's length: PostgreSQL's explicit cast to
    # varchar(n) would cut a longer value silently, where the INSERT or UPDATE refuses it.
    element = String() if isinstance(column_type, String) else column_type
    return ARRAY(element, dimensions=1)  # one dimension even if a value is a JSON list


def _unnest(table: Table, columns: list[str], rows: Rows) -> TableValuedAlias:
    arrays = [
        bindparam(None, [row[name] for row in rows], type_=_array_of(table.c[name].type))
        for name in columns
    ]
    # The ordinality keeps the rows in the order given, and with them the ids they get.
    return (
        func.unnest(*arrays)
        .table_valued(*columns, with_ordinality="bulk_ordinality")
        .render_derived(name="bulk")
    )


def _split_same(rows: Rows, columns: list[str], keep: str) -> tuple[list[str], dict[str, Any]]:
    """Columns whose value is the same in every row are sent once, not as an array (asyncpg
    checks each array element in Python); `keep` stays an array so that there is one."""
    varying: list[str] = []
    same: dict[str, Any] = {}
    for name in columns:
        first = rows[0][name]
        if (
            name != keep
            and isinstance(first, _SCALARS)
            and all(type(row[name]) is type(first) and row[name] == first for row in rows)
        ):
            same[name] = first
        else:
            varying.append(name)
    return varying, same


def _value(table: Table, name: str, value: Any) -> ColumnElement[Any]:
    return bindparam(None, value, type_=table.c[name].type)


def among(
    session: AsyncSession | Session, column: ColumnElement[Any], values: Collection[Any]
) -> ColumnElement[bool]:
    """`column IN values`. On PostgreSQL `= ANY(array)`: one parameter, not one per value,
    and the same SQL text for any number of values, so its prepared statement is reused."""
    if is_postgres(session):
        return column == any_(bindparam(None, list(values), type_=_array_of(column.type)))
    return column.in_(values)


def among_named(column: ColumnElement[Any], name: str, dialect: str) -> ColumnElement[bool]:
    """`among` with the values left for later, as parameter `name`: for a statement built
    once per dialect and executed many times."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=_array_of(column.type)))
    return column.in_(bindparam(name, expanding=True))


def insert_statement(
    session: AsyncSession | Session, table: Table, rows: Rows
) -> tuple[Executable, Rows | None]:
    """An INSERT of `rows` (dicts with the same keys) and its parameters, for either session."""
    if not is_postgres(session) or len(rows) < ARRAYS_FROM_ROWS:
        return table.insert(), rows
    columns = list(rows[0])
    varying, same = _split_same(rows, columns, keep=columns[0])
    values = _unnest(table, varying, rows)
    selected = (values.c[c] if c in varying else _value(table, c, same[c]) for c in columns)
    query = select(*selected).order_by(values.c.bulk_ordinality)
    return table.insert().from_select(columns, query), None


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
    if len({row[key] for row in rows}) != len(rows):
        raise ValueError(f"update_rows: the same {key} twice in one batch of {table.name}")
    columns = [name for name in rows[0] if name != key]
    if not is_postgres(session) or len(rows) < ARRAYS_FROM_ROWS:
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
