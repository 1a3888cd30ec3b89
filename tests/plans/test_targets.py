"""Who a plan's targets reach at an instant, and who the duty office is: plain values."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from service.catalog import Channel
from service.plans.models import Target
from service.plans.targets import reach_people, resolve_targets
from service.roster.loader import load_roster
from tests.conftest import REPO

ROSTER = load_roster(REPO / "config" / "roster.yaml")
# 2026-07-15 10:00 in Shanghai: Sun Li and Wu Hua hold Qingshan's shift, Li Na and Chen Gang
# the city's (the sample roster).
AT = datetime(2026, 7, 15, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_roles_resolve_at_the_instant_through_the_unit_chain() -> None:
    """The incident's unit, its parent and the top resolve to who is on duty there now."""
    found = resolve_targets(
        ROSTER,
        targets=[
            Target(role="duty_officer", unit="incident"),
            Target(role="leader_on_shift", unit="parent"),
            Target(role="duty_officer", unit="top"),
        ],
        groups={},
        channels=[Channel.sms],
        incident_unit="qingshan",
        at=AT,
    )
    assert [p.id for p in found.people] == ["sun_li", "chen_gang", "li_na"]
    assert [d.address for d in found.deliveries] == [
        ROSTER.people[p].addresses(Channel.sms)[0] for p in ("sun_li", "chen_gang", "li_na")
    ]


def test_each_person_is_reached_once_per_channel_and_gaps_are_named() -> None:
    """A person named twice is reached once; a role nobody holds is listed as uncovered;
    a person without an address for a channel is listed as unreachable on it."""
    found = resolve_targets(
        ROSTER,
        targets=[
            Target(role="duty_officer", unit="incident"),
            Target(person="sun_li"),
            Target(role="foreign_liaison", unit="incident"),
        ],
        groups={},
        channels=[Channel.sms, Channel.voice],
        incident_unit="qingshan",
        at=AT,
        exclude={"nobody"},
    )
    assert [p.id for p in found.people] == ["sun_li"]
    assert [(d.channel, d.person.id) for d in found.deliveries] == [
        (Channel.sms, "sun_li"),
        (Channel.voice, "sun_li"),  # a call goes to the SMS number
    ]
    assert [t.role for t in found.uncovered] == ["foreign_liaison"]


def test_groups_expand_and_excluded_people_are_left_out() -> None:
    """A group stands for its targets; people already told are not told again."""
    found = resolve_targets(
        ROSTER,
        targets=[Target(group="county_desk")],
        groups={
            "county_desk": [
                Target(role="duty_officer", unit="incident"),
                Target(role="leader_on_shift", unit="incident"),
            ]
        },
        channels=[Channel.email],
        incident_unit="qingshan",
        at=AT,
        exclude={"sun_li"},
    )
    assert [p.id for p in found.people] == ["wu_hua"]


def test_the_duty_office_is_the_top_units_shift() -> None:
    """For a county's incident, and for a matter of no one unit: the city's duty officer
    and leader on shift."""
    assert [p.id for p in ROSTER.duty_office(AT, "qingshan")] == ["li_na", "chen_gang"]
    assert [p.id for p in ROSTER.duty_office(AT)] == ["li_na", "chen_gang"]
    reached = reach_people(ROSTER.duty_office(AT), [Channel.sms, Channel.email])
    assert [(d.person.id, d.channel) for d in reached.deliveries] == [
        ("li_na", Channel.sms),
        ("li_na", Channel.email),
        ("chen_gang", Channel.sms),
        ("chen_gang", Channel.email),
    ]
