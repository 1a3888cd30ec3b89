"""Whatever arrives from outside (a roster, a duty table, a report, an SMS reply, a link,
a request body), parsing ends in a value or in dutyd's own structured refusal: never in
another exception, which the API would turn into a 500."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from service.api.limits import json_problem, might_be_refused
from service.errors import AuthError, InvalidInput, RosterInvalid
from service.flows.replies import REPLY
from service.incidents.models import IncidentReport
from service.notify.ack_links import AckLinks
from service.roster.csvio import parse_duty_table
from service.roster.loader import load_roster, roster_from_data
from service.yamlfile import Document
from tests.conftest import REPO

ROSTER = load_roster(REPO / "config" / "roster.yaml")
ROSTER_DATA = ROSTER.document.model_dump(mode="json")
NOW = datetime(2026, 7, 15, 2, 0, tzinfo=UTC)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(),
        st.text(max_size=30),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=25,
)


@st.composite
def damaged_rosters(draw: st.DrawFn) -> dict[str, Any]:
    """The sample roster with one part replaced by something arbitrary."""
    data = copy.deepcopy(ROSTER_DATA)
    section = draw(st.sampled_from(sorted(data)))
    if isinstance(data[section], list) and data[section] and draw(st.booleans()):
        index = draw(st.integers(0, len(data[section]) - 1))
        item = data[section][index]
        if isinstance(item, dict) and item:
            key = draw(st.sampled_from(sorted(item)))
            item[key] = draw(json_values)
        else:
            data[section][index] = draw(json_values)
    else:
        data[section] = draw(json_values)
    return data


@SETTINGS
@given(damaged_rosters())
def test_a_damaged_roster_is_refused_with_reasons_or_accepted(data: dict[str, Any]) -> None:
    """A roster edit (API PUT, import, restore) is a Roster or RosterInvalid with reasons."""
    try:
        roster_from_data(Document(path=Path("request"), data=data))
    except RosterInvalid as exc:
        assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)


csv_cells = st.one_of(
    st.text(max_size=15),
    st.sampled_from(["qingshan", "duty_officer", "leader_on_shift", "2026-07-20", "sun_li"]),
)


@SETTINGS
@given(
    st.lists(st.lists(csv_cells, min_size=0, max_size=6), max_size=6),
    st.booleans(),
)
def test_any_duty_table_is_parsed_or_refused_line_by_line(
    rows: list[list[str]], with_header: bool
) -> None:
    """A CSV duty table of any content: lines, or RosterInvalid naming line and problem."""
    header = "unit,role,date,person,shift_start,shift_length\n" if with_header else ""
    text = header + "\n".join(",".join(json.dumps(c) for c in row) for row in rows)
    try:
        parse_duty_table(text, ROSTER, "duty.csv")
    except RosterInvalid as exc:
        assert all(p.startswith("duty.csv:") for p in exc.problems), exc.problems


@SETTINGS
@given(st.dictionaries(st.text(max_size=15), json_values, max_size=8))
def test_any_incident_body_is_a_report_or_a_validation_error(body: dict[str, Any]) -> None:
    """POST /incidents bodies: an IncidentReport or pydantic's ValidationError."""
    base = {"category": "natural_disaster", "event_type": "flood", "level": "II"}
    try:
        IncidentReport.model_validate({**base, "unit": "qingshan", "title": "t", **body})
    except ValidationError as exc:
        assert exc.errors()


@SETTINGS
@given(st.text(max_size=40))
def test_any_sms_reply_is_understood_or_not(body: str) -> None:
    """An SMS reply's incident number, when there is one, fits a row id (at most 10 digits)."""
    match = REPLY.match(body)
    if match and match[2]:
        assert len(match[2]) <= 10 and int(match[2]) >= 0


@SETTINGS
@given(st.text(max_size=80))
def test_any_acknowledgement_link_is_valid_or_refused(token: str) -> None:
    """Whatever follows /ack/: an (incident, person) it signed, or AuthError."""
    links = AckLinks(b"k" * 32, "https://dutyd.example", lifetime=NOW - NOW)
    try:
        links.verify(token, NOW)
    except AuthError:
        pass
    signed = links.token(7, "sun_li", NOW)
    assert links.verify(signed, NOW) == (7, "sun_li")


@SETTINGS
@given(json_values)
def test_request_bodies_are_checked_without_surprises(value: Any) -> None:
    """The request-limits check of any JSON value returns a reason or None."""
    problem = json_problem(value, [])
    assert problem is None or isinstance(problem, str)


def nested(leaf: Any, depth: int, as_key: bool) -> Any:
    value = {leaf: 1} if as_key and isinstance(leaf, str) else leaf
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


# Values `json_problem` refuses as often as it passes them: NULs and lone surrogates (in
# text and in keys), nesting around MAX_JSON_DEPTH.
risky_values = st.builds(
    nested,
    st.one_of(json_values, st.sampled_from(["ok", "a\x00b", "\ud800", "x\udfff", "水\x00"])),
    st.integers(min_value=0, max_value=40),
    st.booleans(),
)


@SETTINGS
@given(st.one_of(json_values, risky_values), st.booleans())
def test_a_body_the_check_would_refuse_is_never_skipped(value: Any, ascii_only: bool) -> None:
    """The middleware walks only bodies `might_be_refused` picks: every body whose parsed
    value `json_problem` refuses is one of them, however it was written."""
    body = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    parsed = json.loads(body)
    if json_problem(parsed, []) is not None:
        assert might_be_refused(body)


def test_invalid_input_names_its_field() -> None:
    """The refusal the parsers use carries the field it is about."""
    assert InvalidInput("x", field="learned_at").field == "learned_at"
