"""Durations and role names read as an officer writes them, in both languages."""

from __future__ import annotations

from datetime import timedelta

from service.texts.words import chinese_number, clip, role_label, spoken_duration


def test_durations_read_as_written_by_hand() -> None:
    """1 h 30 min, 1小时30分; days for long waits; under a minute is not '0s'."""
    assert spoken_duration(timedelta(minutes=90), "zh") == "1小时30分"
    assert spoken_duration(timedelta(minutes=90), "en") == "1 h 30 min"
    assert spoken_duration(timedelta(days=1, minutes=5), "zh") == "1天5分"
    assert spoken_duration(timedelta(seconds=0), "zh") == "不到1分钟"
    assert spoken_duration(timedelta(seconds=59), "en") == "under a minute"


def test_roles_have_names_in_each_language() -> None:
    """A shift reminder in Chinese says 值班员, in English 'duty officer', never both."""
    assert role_label("duty_officer", "zh") == "值班员"
    assert role_label("leader_on_shift", "en") == "leader on shift"
    assert role_label("flood_liaison", "en") == "flood liaison"


def test_follow_ups_are_numbered_as_the_office_numbers_them() -> None:
    """续报一, 续报二 … 续报十, 续报十一, 续报二十一."""
    assert [chinese_number(n) for n in (1, 2, 10, 11, 20, 21, 99)] == [
        "一",
        "二",
        "十",
        "十一",
        "二十",
        "二十一",
        "九十九",
    ]


def test_long_lines_are_cut_between_words_and_marked() -> None:
    """A digest line cut to fit ends at a word, with an ellipsis; Chinese is cut by
    character; a line that fits is left whole."""
    english = "Level II flood: Qingshan river above the warning mark since 10:00 today"
    assert clip(english, 40) == "Level II flood: Qingshan river above…"
    assert clip("【青山县】重大（II级）自然灾害：青山河水位超警戒", 12) == "【青山县】重大（II级…"
    assert clip("short", 40) == "short"
