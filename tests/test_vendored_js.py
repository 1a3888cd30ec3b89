"""The web console's JavaScript is vendored, pinned and loaded from our own server only.

service/web/static/vendor/VENDORED.md lists each vendored file with its SHA-256; the files
must still match it, and scripts/vendor-js (which fetches them again) must pin the same
versions and hashes. No page, template or script under service/web may load a script or
stylesheet from another host (no CDN): the console has to work on a closed network.
"""

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "service" / "web"
VENDOR = WEB / "static" / "vendor"
VENDORED_MD = VENDOR / "VENDORED.md"
VENDOR_SCRIPT = ROOT / "scripts" / "vendor-js"

SCANNED_SUFFIXES = frozenset({".html", ".htm", ".j2", ".jinja", ".jinja2", ".js", ".css"})


@dataclass(frozen=True)
class Vendored:
    name: str
    package: str
    version: str
    inner_path: str
    sha256: str


def _field(section: str, name: str, label: str) -> str:
    match = re.search(rf"^- {re.escape(label)}: `([^`]+)`", section, re.MULTILINE)
    assert match, f"VENDORED.md: the section for {name} has no '- {label}: `...`' line"
    return match.group(1)


def read_vendored() -> list[Vendored]:
    """The files VENDORED.md lists: one '## <file name>' section each."""
    text = VENDORED_MD.read_text(encoding="utf-8")
    parts = re.split(r"^## +(\S+) *$", text, flags=re.MULTILINE)
    entries: list[Vendored] = []
    for name, section in zip(parts[1::2], parts[2::2], strict=True):
        sha = _field(section, name, "SHA-256")
        assert re.fullmatch(r"[0-9a-f]{64}", sha), f"VENDORED.md: {name}: bad SHA-256 {sha!r}"
        entries.append(
            Vendored(
                name=name,
                package=_field(section, name, "npm package"),
                version=_field(section, name, "version"),
                inner_path=_field(section, name, "path in package"),
                sha256=sha,
            )
        )
    return entries


def test_vendored_files_match_their_recorded_sha256() -> None:
    entries = read_vendored()
    assert {e.name for e in entries} >= {"htmx.min.js", "htmx-ext-sse.js"}
    for entry in entries:
        path = VENDOR / entry.name
        assert path.is_file(), f"{path.relative_to(ROOT)} is listed in VENDORED.md but missing"
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
        assert actual == entry.sha256, (
            f"{path.relative_to(ROOT)}: SHA-256 is {actual}, VENDORED.md says {entry.sha256}; "
            "run scripts/vendor-js to restore the pinned file"
        )


def test_every_vendored_file_is_listed() -> None:
    listed = {e.name for e in read_vendored()}
    present = {p.name for p in VENDOR.iterdir() if p.is_file() and p != VENDORED_MD}
    assert present <= listed, f"files in {VENDOR.relative_to(ROOT)} not in VENDORED.md"


def test_fetch_script_pins_what_vendored_md_records() -> None:
    pins = {
        m.group("name"): m.groupdict()
        for m in re.finditer(
            r'"(?P<package>\S+)@(?P<version>\S+) (?P<inner>\S+) (?P<name>\S+) '
            r'(?P<sha>[0-9a-f]{64})"',
            VENDOR_SCRIPT.read_text(encoding="utf-8"),
        )
    }
    entries = read_vendored()
    assert set(pins) == {e.name for e in entries}
    for entry in entries:
        pin = pins[entry.name]
        assert (pin["package"], pin["version"], pin["inner"], pin["sha"]) == (
            entry.package,
            entry.version,
            entry.inner_path,
            entry.sha256,
        ), f"scripts/vendor-js and VENDORED.md disagree about {entry.name}"


# An http(s) or protocol-relative ("//host/...") URL: anything that is not our own server.
_REMOTE = r"(?:https?:)?//"
# <script src=...>, <img src=...> and so on: a src attribute on any tag loads something.
_SRC_ATTR = re.compile(rf"""\bsrc\s*=\s*["']?\s*{_REMOTE}""", re.IGNORECASE)
# <link href=...> (stylesheets, preloads, icons); <a href> is a link, not a load.
_LINK_TAG = re.compile(r"<link\b[^>]*>", re.IGNORECASE)
_HREF_ATTR = re.compile(rf"""\bhref\s*=\s*["']?\s*{_REMOTE}""", re.IGNORECASE)
# In scripts: el.src = "https://...", link.href = "https://...", import ... "https://...".
_JS_LOAD = re.compile(
    rf"""(?:\.(?:src|href)\s*=\s*|\bimport\b[^"'`;]*|\bimport\s*\(\s*)["'`]\s*{_REMOTE}"""
)
# In stylesheets: @import "https://..." and url(https://...).
_CSS_LOAD = re.compile(rf"""(?:@import\s+|url\(\s*)["']?\s*{_REMOTE}""", re.IGNORECASE)


def remote_loads(text: str, suffix: str) -> list[str]:
    """The snippets of text that load a script, stylesheet or other resource from elsewhere."""
    found = [m.group(0) for m in _SRC_ATTR.finditer(text)]
    found += [tag.group(0) for tag in _LINK_TAG.finditer(text) if _HREF_ATTR.search(tag.group(0))]
    if suffix == ".js":
        found += [m.group(0) for m in _JS_LOAD.finditer(text)]
    if suffix == ".css":
        found += [m.group(0) for m in _CSS_LOAD.finditer(text)]
    return found


@pytest.mark.parametrize(
    ("text", "suffix"),
    [
        ('<script src="https://unpkg.com/htmx.org@2.0.11"></script>', ".html"),
        ("<script defer src='http://cdn.example/x.js'></script>", ".j2"),
        ('<script src="//cdn.example/x.js"></script>', ".html"),
        ('<link rel="stylesheet" href="https://cdn.example/x.css">', ".j2"),
        ('<link href=https://fonts.example/css rel="stylesheet">', ".html"),
        ('s.src = "https://cdn.example/x.js"', ".js"),
        ('import x from "https://cdn.example/x.js"', ".js"),
        ('@import url("https://fonts.example/css");', ".css"),
    ],
)
def test_remote_load_detector_flags_cdn_references(text: str, suffix: str) -> None:
    assert remote_loads(text, suffix)


@pytest.mark.parametrize(
    ("text", "suffix"),
    [
        ('<script src="/static/vendor/htmx.min.js"></script>', ".html"),
        ("<script src=\"{{ url_for('static', path='vendor/htmx.min.js') }}\"></script>", ".j2"),
        ('<link rel="stylesheet" href="{{ static_url }}/console.css">', ".j2"),
        ('<a href="https://www.example.gov/help">help</a>', ".html"),
        ('<div hx-ext="sse" sse-connect="/console/events" sse-swap="board"></div>', ".j2"),
        ('const stream = "/console/events";', ".js"),
        (".banner { background: url(/static/img/banner.png); }", ".css"),
    ],
)
def test_remote_load_detector_passes_local_references(text: str, suffix: str) -> None:
    assert remote_loads(text, suffix) == []


def test_no_web_file_loads_scripts_or_stylesheets_from_elsewhere() -> None:
    exempt = {(VENDOR / e.name).resolve() for e in read_vendored()}
    offenders: list[str] = []
    for path in sorted(WEB.rglob("*")):
        if not path.is_file() or path.suffix.lower() not in SCANNED_SUFFIXES:
            continue
        if path.resolve() in exempt:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        offenders += [
            f"{path.relative_to(ROOT)}: {hit}" for hit in remote_loads(text, path.suffix.lower())
        ]
    assert offenders == [], "remote script/stylesheet sources (vendor them instead):\n" + "\n".join(
        offenders
    )
