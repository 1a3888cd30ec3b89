"""Recipients, people and warnings for the tests of the warning workflow."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from service.app import Dutyd
from service.auth.policy import Grant, Principal
from service.auth.tokens import Role
from service.catalog import Level
from service.flows.warnings import WarningDesk
from service.warnings.models import WarningContent
from service.warnings.recipients import import_recipients
from service.warnings.recipients_csv import parse_recipients

DRAFTER = Principal("li_na", (Grant(Role.warning_drafter, "qingshan"),), person_id="li_na")
COUNTY_APPROVER = Principal(
    "zhou_jun", (Grant(Role.warning_approver, "qingshan"),), person_id="zhou_jun"
)
CITY_APPROVER = Principal(
    "wang_fang", (Grant(Role.warning_approver, "linjiang"),), person_id="wang_fang"
)
COUNTY_HEAD = Principal(
    "tang_hui", (Grant(Role.warning_approver, "qingshan"),), person_id="tang_hui"
)
OFFICER = Principal("liu_yang", (Grant(Role.duty_officer, "qingshan"),), person_id="liu_yang")
LEADER = Principal("wu_hua", (Grant(Role.leader, "qingshan"),), person_id="wu_hua")

HEADER = "id,name,kind,language,areas,lat,lon,radius_km,polygon,sms,email,groups"


def recipients_csv(qingshan: int, hexi: int, elsewhere: int = 0) -> str:
    lines = [HEADER]
    for i in range(qingshan):
        lines.append(
            f"qs-{i},青山村{i},village_head,zh-CN,33990100{i % 9 + 1},,,,,+86139000{i:05d},,村干部"
        )
    for i in range(hexi):
        lines.append(f"hx-{i},河西社区{i},community_head,zh-CN,339902,,,,,+86139100{i:05d},,")
    for i in range(elsewhere):
        lines.append(f"ot-{i},他处{i},public,en-US,339903,,,,,+86139200{i:05d},o{i}@example.org,")
    return "\n".join(lines) + "\n"


async def load_recipients(dutyd: Dutyd, text: str) -> None:
    parsed = parse_recipients(text)
    assert not parsed.rejected, parsed.rejected
    async with dutyd.sessions.begin() as session:
        await import_recipients(session, parsed.recipients, dutyd.clock.now(), source="test")


def rainstorm(level: Level, codes: list[str], expires: datetime, **extra: Any) -> WarningContent:
    values: dict[str, Any] = {
        "hazard": "rainstorm",
        "level": level,
        "areas": [{"description": "青山县、河西县", "codes": codes}],
        "texts": [
            {
                "language": "zh-CN",
                "headline": "青山县、河西县发布暴雨预警",
                "description": "预计未来6小时内降雨量将达100毫米以上。",
                "instruction": "请立即停止户外活动，低洼地区人员转移。",
            },
            {
                "language": "en-US",
                "headline": "Rainstorm warning for Qingshan and Hexi",
                "description": "Over 100 mm of rain expected within 6 hours.",
                "instruction": "Stop outdoor activity; leave low-lying areas.",
            },
        ],
        "expires": expires,
    }
    values.update(extra)
    return WarningContent.model_validate(values)


def desk(dutyd: Dutyd, at: datetime | None = None) -> WarningDesk:
    return WarningDesk(dutyd.warning_rules, dutyd.runtime.roster, at or dutyd.clock.now())


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
