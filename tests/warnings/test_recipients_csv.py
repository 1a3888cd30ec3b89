"""Recipients from CSV: all or nothing, every problem reported with its line and column."""

from __future__ import annotations

from service.warnings.recipients_csv import (
    MAX_LINES,
    POINT_RADIUS_KM,
    ChannelAddress,
    RecipientKind,
    parse_recipients,
)

HEADER = "id,name,kind,language,areas,lat,lon,radius_km,polygon,sms,email,groups"
GOOD = "\n".join(
    [
        HEADER,
        "qs-001,青山镇李村村委会,village_head,zh-CN,330102001,,,,,+8613800000101,,村干部",
        '"qs-002","Qingshan Middle School, East Campus",school,en-US,,30.25,120.17,0.5,,'
        "+86 138 0000 0102,head@qsms.edu.cn;office@qsms.edu.cn,schools;村干部",
        "qs-003,河口化工厂,enterprise,,330102;330103,30.1,120.1,,,,safety@hk.example.cn,",
        'qs-004,山脚社区,community_head,zh-CN,,,,,"30.0,120.0 30.0,120.5 30.5,120.5 30.0,120.0",'
        "+8613800000104;+8613800000105,,",
    ]
)


def problems(text: str) -> list[tuple[int, str]]:
    return [(r.line, r.field) for r in parse_recipients(text).rejected]


def test_a_good_file_gives_every_recipient_with_areas_and_channels() -> None:
    """Codes, points, circles, polygons, several addresses and groups, default language."""
    result = parse_recipients(GOOD + "\n")
    assert result.rejected == [] and result.ok and result.lines_checked == 4
    village, school, plant, community = result.recipients
    assert village.kind == RecipientKind.village_head and village.area.codes == ["330102001"]
    assert village.channels == [ChannelAddress(channel="sms", address="+8613800000101")]
    assert village.groups == ["村干部"]
    assert school.name == "Qingshan Middle School, East Campus" and school.language == "en-US"
    assert school.area.circles[0].radius_km == 0.5 and school.point is not None
    assert [c.channel for c in school.channels] == ["sms", "email", "email"]
    assert school.channels[0].address == "+8613800000102"  # spaces dropped
    assert plant.language == "zh-CN" and plant.area.codes == ["330102", "330103"]
    assert plant.area.circles[0].radius_km == POINT_RADIUS_KM  # a point: a few metres
    assert len(community.area.polygons[0].points) == 4 and len(community.channels) == 2


def test_a_byte_order_mark_and_windows_line_ends_are_fine() -> None:
    """Excel writes a BOM and CRLF; neither changes what is read."""
    result = parse_recipients("\ufeff" + GOOD.replace("\n", "\r\n") + "\r\n")
    assert result.rejected == [] and len(result.recipients) == 4


def test_every_problem_on_every_line_is_reported_and_nothing_is_returned() -> None:
    """Several bad lines: each line, column and reason, and no recipients to store."""
    text = "\n".join(
        [
            HEADER,
            "qs-001,青山镇李村村委会,village_head,zh-CN,330102001,,,,,+8613800000101,,",
            "bad id,,mayor,fr-FR,3301;330102,,,,,13800000101,not-an-address,",
            "qs-003,河口化工厂,enterprise,,,95,120.1,,,+86138,,",
            "qs-004,山脚社区,community_head,,330102,30.1,,5,,,a@b.cn,",
        ]
    )
    result = parse_recipients(text)
    assert result.recipients == [] and not result.ok and result.lines_checked == 4
    found = {(r.line, r.field): r.reason for r in result.rejected}
    assert set(found) == {
        (3, "id"),
        (3, "name"),
        (3, "kind"),
        (3, "language"),
        (3, "areas"),
        (3, "sms"),
        (3, "email"),
        (4, "lat"),
        (4, "sms"),
        (5, "lon"),
    }
    assert "'mayor' is not one of village_head" in found[(3, "kind")]
    assert "'3301' is not a GB/T 2260 area code" in found[(3, "areas")]
    assert "country code" in found[(3, "sms")]
    assert "outside -90 to 90" in found[(4, "lat")]
    assert "E.164" in found[(4, "sms")]
    assert "give both or neither" in found[(5, "lon")]


def test_a_line_needs_an_area_and_an_address() -> None:
    """Neither codes nor a point nor a polygon; neither sms nor email: both are named."""
    text = f"{HEADER}\nqs-009,无处,public,zh-CN,,,,,,,,\n"
    result = parse_recipients(text)
    assert [(r.line, r.field) for r in result.rejected] == [(2, "areas"), (2, "sms")]
    assert "no area" in result.rejected[0].reason
    assert "no address" in result.rejected[1].reason


def test_a_repeated_id_names_both_lines() -> None:
    """The second use of an id is rejected, and its reason names the first line too."""
    line = "qs-001,李村,village_head,zh-CN,330102001,,,,,+8613800000101,,"
    result = parse_recipients("\n".join([HEADER, line, GOOD.splitlines()[2], line]))
    assert [(r.line, r.field) for r in result.rejected] == [(4, "id")]
    assert "on line 2 and on line 4" in result.rejected[0].reason
    assert result.recipients == []


def test_an_unknown_column_is_a_file_level_error() -> None:
    """A misspelt column is reported on line 1; the lines below are still checked."""
    text = "id,name,kind,areas,emial\nqs-001,李村,village_head,330102001,a@b.cn\n"
    result = parse_recipients(text)
    assert [(r.line, r.field) for r in result.rejected] == [(1, "emial"), (2, "sms")]
    assert "unknown column 'emial'" in result.rejected[0].reason


def test_a_missing_required_column_stops_the_import() -> None:
    """Without `kind` (or with a column twice) no line can be read; only line 1 is named."""
    assert problems("id,name,areas,sms\nqs-001,李村,330102,+8613800000101\n") == [(1, "kind")]
    assert problems("id,name,kind,sms,sms\nqs-001,李村,public,+8613800000101,\n") == [(1, "sms")]
    assert problems("") == [(1, "")]


def test_bad_phone_numbers_are_refused_with_a_reason() -> None:
    """Not E.164, a spreadsheet's scientific notation, letters: each says what is wrong."""
    for number, words in [
        ("+861380000010112345", "E.164"),
        ("+0123456789", "E.164"),
        ("8.6138E+12", "spreadsheet"),
        ("+86abc", "E.164"),
    ]:
        text = f"{HEADER}\nqs-001,李村,village_head,,330102,,,,,{number},,\n"
        (rejected,) = parse_recipients(text).rejected
        assert (rejected.line, rejected.field) == (2, "sms") and words in rejected.reason


def test_a_polygon_must_be_closed_and_made_of_points() -> None:
    """An open ring, too few points, or a pair that is no lat,lon are each refused."""
    for ring, words in [
        ("30.0,120.0 30.0,120.5 30.5,120.5 30.4,120.0", "first point must be repeated"),
        ("30.0,120.0 30.5,120.5 30.0,120.0", "at least 4 points"),
        ("30.0,120.0 30.0:120.5 30.5,120.5 30.0,120.0", "point 2 is not a lat,lon pair"),
        ("30.0,120.0 95,120.5 30.5,120.5 30.0,120.0", "point 2: lat should be less than"),
    ]:
        text = f'{HEADER}\nqs-001,李村,village_head,,,,,,"{ring}",+8613800000101,,\n'
        (rejected,) = parse_recipients(text).rejected
        assert (rejected.line, rejected.field) == (2, "polygon") and words in rejected.reason


def test_a_line_with_the_wrong_number_of_fields_is_refused() -> None:
    """A lost or extra comma would shift every column after it: the line is refused."""
    text = f"{HEADER}\nqs-001,李村,village_head,,330102,,,,,+8613800000101,\n"
    result = parse_recipients(text)
    assert [(r.line, r.field) for r in result.rejected] == [(2, "")]
    assert "11 fields where the header has 12" in result.rejected[0].reason


def test_line_numbers_count_lines_in_the_file() -> None:
    """A quoted field over two lines and a blank line: later lines keep their numbers."""
    text = (
        "id,name,kind,areas,sms\n"
        'qs-001,"李村\n村委会",village_head,330102,+8613800000101\n'
        "\n"
        "qs-002,王村,village_head,330102,+86138\n"
    )
    assert problems(text) == [(5, "sms")]


def test_a_file_over_the_line_limit_is_refused_whole() -> None:
    """More than MAX_LINES lines: one file-level error, nothing read."""
    line = "qs-001,李村,village_head,330102,+8613800000101\n"
    text = "id,name,kind,areas,sms\n" + line * MAX_LINES
    result = parse_recipients(text)
    assert [(r.line, r.field) for r in result.rejected] == [(1, "")]
    assert "more than 200000" in result.rejected[0].reason and result.lines_checked == 0
