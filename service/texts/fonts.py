"""A font that writes Chinese, for PDF reports and charts."""

from __future__ import annotations

from pathlib import Path

from service.errors import InvalidInput

# Looked for when the setting names none that exists.
CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)


def find_font(configured: str) -> Path:
    for candidate in (configured, *CJK_FONTS):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise InvalidInput(
        f"no font that writes Chinese for the PDF: report_font {configured!r} does not exist "
        f"and none of {', '.join(CJK_FONTS)} is installed (Debian: fonts-wqy-microhei)",
        field="report_font",
    )
