"""Words for people: durations as an officer writes them, and the names of duty roles,
in Chinese and English."""

from __future__ import annotations

from datetime import timedelta

ROLE_LABELS: dict[str, dict[str, str]] = {
    "duty_officer": {"zh": "值班员", "en": "duty officer"},
    "leader_on_shift": {"zh": "带班领导", "en": "leader on shift"},
    "office_director": {"zh": "值班室主任", "en": "duty office director"},
    "head": {"zh": "主要负责人", "en": "head"},
    "deputy_head": {"zh": "分管负责人", "en": "deputy head"},
}
_UNITS = {
    "zh": (("天", 86400), ("小时", 3600), ("分", 60)),
    "en": ((" d", 86400), (" h", 3600), (" min", 60)),
}


def role_label(role: str, language: str) -> str:
    """A role's name for people; a role the catalogue does not know reads as written."""
    known = ROLE_LABELS.get(role)
    return known[language] if known else role.replace("_", " ")


def spoken_duration(delta: timedelta, language: str) -> str:
    """`1小时30分` / `1 h 30 min`, in whole minutes; under a minute says so."""
    seconds = int(abs(delta.total_seconds()))
    if seconds < 60:
        return "不到1分钟" if language == "zh" else "under a minute"
    parts = []
    for word, size in _UNITS[language]:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{word}")
    return "".join(parts) if language == "zh" else " ".join(parts)


_DIGITS = "零一二三四五六七八九"


def chinese_number(n: int) -> str:
    """一, 二, … 十, 十一, … 九十九, as follow-ups are numbered (续报一、续报二); digits beyond."""
    if not 0 < n < 100:
        return str(n)
    tens, ones = divmod(n, 10)
    if tens == 0:
        return _DIGITS[ones]
    return ("" if tens == 1 else _DIGITS[tens]) + "十" + (_DIGITS[ones] if ones else "")


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, cut where a reader expects it: at a space (English)
    when one is near the end, and marked with an ellipsis; never mid-word when avoidable."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit * 2 // 3:
        cut = cut[:space]
    return cut.rstrip(" ,.;:，。；：、") + "…"


# What begins every message of a drill, so that nobody takes it for the real thing.
DRILL_MARKS = {"zh": "【演练】", "en": "[DRILL] "}


def drill_marked(text: str, language: str) -> str:
    """`text` marked as a drill once, in the reader's language."""
    mark = DRILL_MARKS.get(language, DRILL_MARKS["zh"])
    return text if not text or text.startswith(mark) else mark + text
