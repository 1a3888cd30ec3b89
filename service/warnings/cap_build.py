"""A published warning message as CAP: one `info` per language, the colour and level as
parameters, the areas with their GB/T 2260 geocodes, `references` to what it updates or
lifts."""

from __future__ import annotations

from datetime import datetime

from service.warnings.hazards import HAZARDS
from service.warnings.models import (
    COLOUR_NAMES,
    SEVERITY_OF_COLOUR,
    CapAlert,
    CapInfo,
    CapReference,
    CapStatus,
    MsgType,
    WarningContent,
)
from service.warnings.sms_text import cell_broadcast_for

NOTE_OF_KIND = {
    MsgType.Alert: "",
    MsgType.Update: "更新 / update",
    MsgType.Cancel: "解除 / lifted",
}


def event_name(content: WarningContent, language: str) -> str:
    hazard = HAZARDS[content.hazard]
    colour = COLOUR_NAMES[content.colour]
    if language.startswith("zh"):
        return f"{hazard.zh}{colour['zh']}预警"
    return f"{colour['en'].capitalize()} {hazard.en} warning"


def cap_alert(
    content: WarningContent,
    *,
    identifier: str,
    sender: str,
    sender_names: dict[str, str],
    sent: datetime,
    msg_type: MsgType,
    references: list[CapReference],
    incidents: list[int],
    web: str | None = None,
) -> CapAlert:
    hazard = HAZARDS[content.hazard]
    infos = []
    for text in content.texts:
        lang_key = "zh" if text.language.startswith("zh") else "en"
        infos.append(
            CapInfo(
                language=text.language,
                category=hazard.cap_category,
                event=event_name(content, text.language),
                # A lifted warning is over: receivers read Past as "no action now".
                urgency="Past" if msg_type is MsgType.Cancel else content.urgency,
                severity=SEVERITY_OF_COLOUR[content.colour],
                certainty=content.certainty,
                effective=content.effective or sent,
                onset=content.onset,
                expires=content.expires,
                sender_name=sender_names.get(lang_key, sender_names.get("zh", sender)),
                headline=text.headline,
                description=text.description,
                instruction=text.instruction,
                web=web,
                parameters=[
                    ("colour", content.colour.value),
                    ("level", content.level.value),
                    ("hazard", content.hazard),
                    # Short texts for cell-broadcast style receivers, named as IPAWS
                    # names them (WEA: 90 characters, 360 on newer networks).
                    *(
                        (
                            name,
                            cell_broadcast_for(
                                content,
                                kind=msg_type,
                                sender_name=sender_names.get(lang_key, sender),
                                language=text.language,
                                limit=limit,
                            ),
                        )
                        for name, limit in (("CMAMtext", 90), ("CMAMlongtext", 360))
                    ),
                ],
                areas=list(content.areas),
            )
        )
    note = NOTE_OF_KIND[msg_type]
    if content.status is CapStatus.Exercise:
        note = ("演练 / drill " + note).strip()
    return CapAlert(
        identifier=identifier,
        sender=sender,
        sent=sent,
        status=content.status,
        msg_type=msg_type,
        note=note,
        references=references,
        incidents=[str(i) for i in incidents],
        infos=infos,
    )
