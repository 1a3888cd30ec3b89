"""SMS length: GSM-7 text fits 160 characters a segment, anything else (Chinese) 70 (UCS-2).

Long messages are sent as one concatenated SMS of at most a few segments; past that they
are cut at the last sentence end that fits, so a pager never receives a wall of text.
"""

from __future__ import annotations

GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
SENTENCE_ENDS = "。！？；.!?;"
# A digest SMS may run longer than one message (see notify.outbox.digest_chunks, which
# splits digests so that none is ever cut).
DIGEST_SEGMENTS = 12


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7 for ch in text)


def segments(text: str) -> int:
    """How many SMS segments the text needs (concatenated parts carry a header)."""
    single, multi = (160, 153) if is_gsm7(text) else (70, 67)
    if len(text) <= single:
        return 1
    return -(-len(text) // multi)


def fit_sms(text: str, max_segments: int = 4) -> str:
    """The text, cut at a sentence end (or hard, with an ellipsis) to fit `max_segments`."""
    if segments(text) <= max_segments:
        return text
    limit = max_segments * (153 if is_gsm7(text) else 67) - 1
    head = text[:limit]
    cut = max(head.rfind(mark) for mark in SENTENCE_ENDS)
    return head[: cut + 1] if cut >= limit // 2 else head + "…"
