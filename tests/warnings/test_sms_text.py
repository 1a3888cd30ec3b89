"""Warning texts for phones: markers, wording per message type, segments and short forms."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from service.catalog import Level
from service.warnings.models import Area, CapStatus, MsgType, WarningContent, WarningText
from service.warnings.sms_text import (
    CELL_BROADCAST_LIMITS,
    cell_broadcast_for,
    cell_broadcast_text,
    fit_sms,
    segments,
    warning_sms,
    warning_sms_for,
)

ZH = {
    "hazard": "rainstorm",
    "colour": "red",
    "headline": "青山县未来3小时降雨量将达100毫米以上",
    "description": "受强对流云团影响，过去3小时青山镇、李村镇已出现80毫米以上降水，"
    "山洪、地质灾害风险极高",
    "instruction": "请立即停止户外活动，山区、河道附近人员立即转移到安全地带",
    "sender_name": "青山县气象台",
    "language": "zh-CN",
}
EN = {
    "hazard": "rainstorm",
    "colour": "orange",
    "headline": "Rain of over 100 mm expected in the next 3 hours",
    "description": "Storm cells have brought 80 mm to Qingshan and Licun towns in 3 hours; "
    "flash floods and landslides are very likely",
    "instruction": "Stop outdoor activities. People near rivers and in the hills move to "
    "safe ground now",
    "sender_name": "Qingshan County Met Office",
    "language": "en-US",
}


def test_every_warning_is_marked_and_drills_and_tests_say_so() -> None:
    """【预警】 always; 【演练】 for an exercise, 【测试】 for a test; [WARNING] [DRILL] [TEST]."""
    real = warning_sms(**ZH)
    assert real.startswith("【预警】青山县气象台发布暴雨红色预警：青山县未来3小时降雨量")
    assert "演练" not in real and "测试" not in real
    drill = warning_sms(**ZH, status=CapStatus.Exercise)
    assert drill.startswith("【预警】【演练】青山县气象台发布暴雨红色预警：")
    assert warning_sms(**ZH, status="Test").startswith("【预警】【测试】青山县气象台")
    assert warning_sms(**EN).startswith(
        "[WARNING] Qingshan County Met Office issues orange rainstorm warning: Rain of over"
    )
    assert warning_sms(**EN, status="Exercise").startswith("[WARNING] [DRILL] Qingshan")
    assert warning_sms(**EN, status="Test").startswith("[WARNING] [TEST] Qingshan")


def test_the_text_reads_as_sentences() -> None:
    """Headline, description and instruction each end once, in the language's punctuation."""
    text = warning_sms(**ZH)
    assert text.endswith("风险极高。请立即停止户外活动，山区、河道附近人员立即转移到安全地带。")
    assert "以上。受强对流" in text and "。。" not in text
    english = warning_sms(**{**EN, "headline": EN["headline"] + "."})
    assert "next 3 hours. Storm cells" in english and english.endswith("safe ground now.")
    assert ".." not in english


@pytest.mark.parametrize(
    ("kind", "zh_words", "en_words"),
    [
        (MsgType.Alert, "青山县气象台发布暴雨红色预警", "issues orange rainstorm warning"),
        (MsgType.Update, "青山县气象台更新暴雨红色预警", "UPDATES orange rainstorm warning"),
        (MsgType.Cancel, "青山县气象台解除暴雨红色预警", "LIFTS orange rainstorm warning"),
    ],
)
def test_updates_and_cancellations_say_what_changed(
    kind: MsgType, zh_words: str, en_words: str
) -> None:
    """An Update says 更新 / UPDATE, a Cancel 解除 / LIFTS, in both languages, drill or not."""
    assert warning_sms(**ZH, kind=kind).startswith("【预警】" + zh_words + "：")
    assert warning_sms(**ZH, kind=kind, status="Exercise").startswith("【预警】【演练】" + zh_words)
    assert f"Met Office {en_words}: " in warning_sms(**EN, kind=kind)


def test_segments_count_gsm7_septets() -> None:
    """160 septets in one SMS, 153 a part after; the extension table costs two."""
    assert segments("") == 1
    assert segments("a" * 160) == 1
    assert segments("a" * 161) == 2
    assert segments("a" * 306) == 2
    assert segments("a" * 307) == 3
    assert segments("[" * 80) == 1  # 160 septets
    assert segments("[" * 81) == 2
    assert segments("a" * 152 + "[" + "a" * 10) == 2  # 164 septets, the escape moved whole
    assert segments("a" * 152 + "[" + "a" * 153) == 3


def test_segments_count_ucs2_code_units() -> None:
    """Chinese: 70 units in one SMS, 67 a part; an emoji is two units and never split."""
    assert segments("预" * 70) == 1
    assert segments("预" * 71) == 2
    assert segments("预" * 134) == 2
    assert segments("预" * 135) == 3
    assert segments("a" * 69 + "é") == 1  # é is GSM-7
    assert segments("a" * 70 + "预") == 2  # one character outside GSM-7 makes it all UCS-2
    assert segments("⚠" + "a" * 69) == 1
    assert segments("🌧" + "a" * 68) == 1  # 70 units
    assert segments("🌧" + "a" * 69) == 2  # 71 units
    assert segments("a" * 66 + "🌧" + "a" * 60) == 2  # 128 units, the pair moved whole
    assert segments("a" * 66 + "🌧" + "a" * 66) == 3  # 134 units, but the pair cannot straddle


@pytest.mark.parametrize("max_segments", [1, 2, 3])
def test_fit_sms_keeps_the_marker_and_headline(max_segments: int) -> None:
    """A long text is cut after the headline, never inside the marker or headline."""
    for values in (ZH, EN):
        full = warning_sms(**values, status="Exercise")
        head = full[: full.index(values["headline"]) + len(values["headline"])]
        padded = full + (" More." if values is EN else "更多。") * 200
        fitted = fit_sms(padded, max_segments)
        assert segments(fitted) <= max_segments
        assert fitted.startswith(head)
    assert fit_sms("short", 1) == "short"


def test_fit_sms_keeps_english_in_gsm7() -> None:
    """An English cut ends in "..." (GSM-7) rather than "…", which would halve the room."""
    fitted = fit_sms(warning_sms(**EN), 1)
    assert segments(fitted) == 1 and "…" not in fitted
    assert fitted.startswith("[WARNING] Qingshan County Met Office issues orange rainstorm warning")


def test_warning_sms_cuts_the_description_before_the_instruction() -> None:
    """With a segment budget, the detail is cut and what to do is kept when it fits."""
    full = warning_sms(**ZH, status="Exercise")
    assert segments(full) == 2
    one = warning_sms(**ZH, status="Exercise", max_segments=1)
    assert segments(one) == 1
    assert one.startswith("【预警】【演练】青山县气象台发布暴雨红色预警：" + ZH["headline"])
    assert "受强对流" not in one  # no room for any of the description
    english = warning_sms(**EN, max_segments=2)
    assert segments(english) <= 2 and english.endswith("safe ground now.")
    assert "..." in english  # the description, cut
    assert warning_sms(**ZH, max_segments=2) == warning_sms(**ZH)


@pytest.mark.parametrize("limit", CELL_BROADCAST_LIMITS)
@pytest.mark.parametrize("values", [ZH, EN], ids=["zh", "en"])
@pytest.mark.parametrize("status", list(CapStatus))
def test_cell_broadcast_texts_fit_their_limit(limit: int, values: dict, status: CapStatus) -> None:
    """90 and 360 characters at most, marker first, hazard and colour named."""
    long_instruction = (
        values["instruction"]
        + ("，" if values is ZH else ", ")
        + ("并" * 200 if values is ZH else "and keep away from the river " * 20)
    )
    for instruction in (values["instruction"], long_instruction):
        args = {k: v for k, v in values.items() if k != "description"}
        text = cell_broadcast_text(
            **{**args, "instruction": instruction}, status=status, limit=limit
        )
        assert len(text) <= limit
        assert text.startswith("【预警】" if values is ZH else "[WARNING]")
        assert ("暴雨红色预警" if values is ZH else "orange rainstorm warning") in text
        if status == CapStatus.Exercise:
            assert "【演练】" in text or "[DRILL]" in text


def test_cell_broadcast_cuts_at_a_boundary() -> None:
    """Cut short, a text ends at a sentence or between words, with "..." when mid-sentence."""
    args = {k: v for k, v in EN.items() if k != "description"}
    advice = cell_broadcast_text(**{**args, "headline": ""}, limit=10_000)
    text = cell_broadcast_text(**args, limit=90)  # too short for the headline as well
    kept = text.removesuffix("...")
    assert len(text) <= 90 and advice.startswith(kept) and kept != advice
    assert (advice[len(kept)] in " .,;:" and text.endswith("...")) or kept.endswith(".")
    roomy = cell_broadcast_text(**args, limit=360)
    assert EN["headline"] in roomy and roomy.endswith("safe ground now.")


def test_a_drafted_warning_renders_in_the_recipients_language() -> None:
    """The content's own texts are used; without an English text, Chinese is sent."""
    content = WarningContent(
        hazard="rainstorm",
        level=Level.I,
        areas=[Area(codes=["330102"])],
        texts=[
            WarningText(
                language="zh-CN",
                headline=ZH["headline"],
                description=ZH["description"],
                instruction=ZH["instruction"],
            )
        ],
        expires=datetime(2026, 7, 15, 12, tzinfo=UTC),
        status=CapStatus.Exercise,
    )
    text = warning_sms_for(content, kind="Alert", sender_name="青山县气象台", language="en-US")
    assert text.startswith("【预警】【演练】青山县气象台发布暴雨红色预警：")
    short = cell_broadcast_for(content, kind="Update", sender_name="青山县气象台", limit=90)
    assert short.startswith("【预警】【演练】青山县气象台更新暴雨红色预警") and len(short) <= 90
