"""A public warning as phones show it: an SMS of a few segments, and cell-broadcast texts
of 90 or 360 characters.

Every text begins with 【预警】 / [WARNING], then 【演练】 / [DRILL] for a drill (CAP
status Exercise) or 【测试】 / [TEST] for a test, so that nobody mistakes either for the
real thing even when only the first line shows. The wording is in the templates
`warning_lead`, `warning_public` and `warning_broadcast` (service/texts/templates).

When a text is too long, the detail goes first and the warning itself last: the
description is cut before the instruction (what to do), and both before the marker, the
sender, the hazard, the colour and the headline.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from service.notify.sms_text import GSM7
from service.texts.render import render_plain
from service.warnings.hazards import HAZARDS
from service.warnings.models import COLOUR_NAMES, CapStatus, Colour, MsgType, WarningContent

# Characters of the GSM-7 extension table: each is sent as an escape and a character.
GSM7_EXTENSION = set("^{}\\[~]|€\f")
GSM7_SINGLE, GSM7_PART = 160, 153  # septets: one SMS, or one part of a concatenated one
UCS2_SINGLE, UCS2_PART = 70, 67  # UTF-16 code units likewise
CELL_BROADCAST_LIMITS = (90, 360)  # characters (the US WEA rules)
SENTENCE_END = re.compile(r"[。！？]|[.!?](?=\s|$)")
SENTENCE_ENDS = "。！？.!?…"
SOFT_BREAKS = " ，、；：,;:"
# A cut description or instruction shorter than this says nothing: leave it out instead.
MIN_KEPT = 6
_MARKERS = re.compile(r"(?:\s*(?:【[^】]*】|\[[^\]]*\]))*")


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7 or ch in GSM7_EXTENSION for ch in text)


def _units(text: str) -> tuple[list[int], int, int]:
    """What each character costs in its encoding, with that encoding's segment sizes."""
    if is_gsm7(text):
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text], GSM7_SINGLE, GSM7_PART
    # UCS-2 counts UTF-16 code units: an emoji outside the BMP is a surrogate pair.
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text], UCS2_SINGLE, UCS2_PART


def segments(text: str) -> int:
    """How many SMS segments the text needs. A concatenated message's parts carry a header
    (153 septets or 67 code units left), and a part never splits an escape or a pair."""
    costs, single, part = _units(text)
    if sum(costs) <= single:
        return 1
    count, used = 1, 0
    for cost in costs:
        if used + cost > part:
            count, used = count + 1, 0
        used += cost
    return count


def _ellipsis(text: str) -> str:
    # "…" is not GSM-7: in English it would turn a 160-septet text into a 70-unit one.
    return "..." if is_gsm7(text) else "…"


def _cut_to(text: str, fits: Callable[[str], bool], ellipsis: str) -> str:
    """The longest start of `text` that `fits`, ended at a sentence where one is near
    (nothing added), else at a word or comma with an ellipsis; "" if nothing fits."""
    if fits(text):
        return text
    low, high = 0, len(text)  # fits(text[:low] + ellipsis) holds, text[:high] does not
    if not fits(ellipsis):
        return ""
    while high - low > 1:
        middle = (low + high) // 2
        if fits(text[:middle] + ellipsis):
            low = middle
        else:
            high = middle
    ends = [m.end() for m in SENTENCE_END.finditer(text, 0, low + 1) if m.end() <= low]
    if ends and ends[-1] >= low // 2:
        return text[: ends[-1]]
    head = text[:low]
    soft = max(head.rfind(mark) for mark in SOFT_BREAKS)
    if soft >= len(head) * 2 // 3:
        head = head[:soft]
    head = head.rstrip(SOFT_BREAKS)
    return head + ellipsis if head else ""


def _protected_end(text: str) -> int:
    """Where the warning itself ends in a rendered text: after the markers, the lead up
    to its colon, and the headline's sentence."""
    markers = _MARKERS.match(text)
    start = markers.end() if markers else 0
    colon = min((i for i in (text.find("：", start), text.find(":", start)) if i >= 0), default=-1)
    if colon < 0:
        return start
    headline_end = SENTENCE_END.search(text, colon + 1)
    return headline_end.end() if headline_end else colon + 1


def fit_sms(text: str, max_segments: int) -> str:
    """The text within `max_segments` SMS segments: cut after the headline (at a sentence
    or word, with an ellipsis), never inside the marker and headline unless they alone
    are too long."""
    if max_segments < 1:
        raise ValueError("an SMS has at least one segment")
    if segments(text) <= max_segments:
        return text
    ellipsis = _ellipsis(text)
    keep = _protected_end(text)
    head = text[:keep]
    if segments(head) <= max_segments:
        tail = _cut_to(text[keep:], lambda t: segments(head + t) <= max_segments, ellipsis)
        return (head + tail).rstrip()
    return _cut_to(text, lambda t: segments(t) <= max_segments, ellipsis)


def _language(language: str) -> str:
    """The templates' language ("zh", "en") for a CAP language or one already short."""
    short = language.split("-")[0].lower()
    if short not in ("zh", "en"):
        raise ValueError(f"no warning texts in {language!r}; zh-CN and en-US are written")
    return short


def _sentence(text: str, language: str) -> str:
    """The text as a finished sentence: stripped, with a full stop if it has no end."""
    text = text.strip()
    if text and text[-1] not in SENTENCE_ENDS:
        text += "。" if language == "zh" else "."
    return text


def _lead_values(
    hazard: str,
    colour: Colour | str,
    kind: MsgType | str,
    status: CapStatus | str,
    sender_name: str,
    language: str,
) -> dict[str, object]:
    if hazard not in HAZARDS:
        raise ValueError(f"unknown hazard {hazard!r}; known: {', '.join(sorted(HAZARDS))}")
    return {
        "hazard": getattr(HAZARDS[hazard], language),
        "colour": COLOUR_NAMES[Colour(colour)][language],
        "kind": MsgType(kind).value,
        "status": CapStatus(status).value,
        "sender_name": sender_name.strip(),
    }


def warning_sms(
    *,
    hazard: str,
    colour: Colour | str,
    headline: str,
    description: str = "",
    instruction: str = "",
    kind: MsgType | str = MsgType.Alert,
    status: CapStatus | str = CapStatus.Actual,
    sender_name: str,
    language: str = "zh-CN",
    max_segments: int | None = None,
) -> str:
    """`【预警】【演练】青山县气象台发布暴雨红色预警：<headline>。<description><instruction>`
    or `[WARNING] [DRILL] <sender> issues red rainstorm warning: …`; an Update says
    更新 / UPDATES, a Cancel 解除 / LIFTS. With `max_segments`, the description and then
    the instruction are cut to fit."""
    lang = _language(language)
    values = _lead_values(hazard, colour, kind, status, sender_name, lang)
    values["headline"] = _sentence(headline, lang)
    details = [d for d in (_sentence(description, lang), _sentence(instruction, lang)) if d]

    def render(parts: list[str]) -> str:
        return render_plain("warning_public", lang, {**values, "details": parts})

    text = render(details)
    if max_segments is None or segments(text) <= max_segments:
        return text
    ellipsis = _ellipsis(text)
    for index in range(len(details)):  # the description first, then the instruction

        def fits(part: str, index: int = index) -> bool:
            shorter = [*details[:index], part, *details[index + 1 :]]
            return segments(render([p for p in shorter if p])) <= max_segments

        kept = _cut_to(details[index], fits, ellipsis)
        if len(kept) >= MIN_KEPT:
            details[index] = kept
            return render([p for p in details if p])
        details[index] = ""
        if fits(""):
            return render([p for p in details if p])
    return fit_sms(render([]), max_segments)


def cell_broadcast_text(
    *,
    hazard: str,
    colour: Colour | str,
    headline: str = "",
    instruction: str = "",
    kind: MsgType | str = MsgType.Alert,
    status: CapStatus | str = CapStatus.Actual,
    sender_name: str,
    language: str = "zh-CN",
    limit: int,
) -> str:
    """A cell-broadcast text of at most `limit` characters (90 or 360): the marker, the
    sender, the hazard and colour, then what to do — the headline too when there is
    room — cut at a sentence, word or comma."""
    if limit < 20:
        raise ValueError("a cell-broadcast text has room for at least 20 characters")
    lang = _language(language)
    values = _lead_values(hazard, colour, kind, status, sender_name, lang)

    def render(body: str) -> str:
        return render_plain("warning_broadcast", lang, {**values, "body": body})

    def fits(body: str) -> bool:
        return len(render(body)) <= limit

    heading, advice = _sentence(headline, lang), _sentence(instruction, lang)
    both = ("" if lang == "zh" else " ").join(p for p in (heading, advice) if p)
    for body in (both, advice or heading):
        if body and fits(body):
            return render(body)
    lead = render("")
    ellipsis = _ellipsis(lead)
    if len(lead) > limit:
        return _cut_to(lead, lambda t: len(t) <= limit, ellipsis)
    kept = _cut_to(advice or heading, fits, ellipsis)
    return render(kept if len(kept) >= MIN_KEPT else "")


def warning_sms_for(
    content: WarningContent,
    *,
    kind: MsgType | str,
    sender_name: str,
    language: str = "zh-CN",
    max_segments: int | None = None,
) -> str:
    """`warning_sms` for a drafted warning, in `language` if it has a text in it (else in
    Chinese: the wording around a text follows the text)."""
    text = content.text(language)
    return warning_sms(
        hazard=content.hazard,
        colour=content.colour,
        headline=text.headline,
        description=text.description,
        instruction=text.instruction,
        kind=kind,
        status=content.status,
        sender_name=sender_name,
        language=text.language,
        max_segments=max_segments,
    )


def cell_broadcast_for(
    content: WarningContent,
    *,
    kind: MsgType | str,
    sender_name: str,
    language: str = "zh-CN",
    limit: int,
) -> str:
    """`cell_broadcast_text` for a drafted warning (see `warning_sms_for`)."""
    text = content.text(language)
    return cell_broadcast_text(
        hazard=content.hazard,
        colour=content.colour,
        headline=text.headline,
        instruction=text.instruction,
        kind=kind,
        status=content.status,
        sender_name=sender_name,
        language=text.language,
        limit=limit,
    )
