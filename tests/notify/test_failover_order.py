"""Fail-over order: the person's contacts in the roster's order, each tried once."""

from __future__ import annotations

from service.notify.failover import next_contact
from service.roster.models import Person


def test_next_contact_follows_the_roster_order_and_skips_what_was_tried() -> None:
    """SMS first, then the second number, then mail; nothing once all were tried."""
    person = Person.model_validate(
        {
            "id": "sun_li",
            "name": "孙丽",
            "unit": "qingshan",
            "rank": 3,
            "contacts": [
                {"channel": "sms", "address": "+8613800001102"},
                {"channel": "sms", "address": "+8613900001102"},
                {"channel": "email", "address": "sun.li@qingshan.example.gov.cn"},
            ],
        }
    )
    tried: set[tuple[str, str]] = set()
    order = []
    while (contact := next_contact(person, tried)) is not None:
        order.append(contact.address)
        tried.add((contact.channel.value, contact.address))
    assert order == ["+8613800001102", "+8613900001102", "sun.li@qingshan.example.gov.cn"]
    assert next_contact(person, {("email", "sun.li@qingshan.example.gov.cn")}).address == (
        "+8613800001102"
    )
