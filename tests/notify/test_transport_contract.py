"""One contract, run over every transport: console, recording, Twilio SMS and voice (the real
`twilio` client against the fake Twilio API) and SMTP (aiosmtplib against aiosmtpd).

The `harness` fixture gives the transport, a way to make its provider fail in a named way
(`FAULTS`), and what the provider received. A test over faults is generated only for the
(transport, fault) pairs the transport's provider can have (`Harness.send_faults`,
`Harness.lookup_faults`): the console cannot answer HTTP 503, so no such test exists.
"""

from __future__ import annotations

import contextlib
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest

from service.catalog import Channel
from service.clock import Clock
from service.errors import DeliveryFailed
from service.notify.console import ConsoleTransport
from service.notify.transport import OutgoingMessage, Receipt, Transport
from service.notify.twilio_sms import TwilioSmsTransport, TwilioVoiceTransport
from tests.fakes.recording import RecordingTransport
from tests.fakes.smtp import SilentServer, SmtpServer, free_port, smtp_transport
from tests.fakes.twilio import FROM_NUMBER, FakeTwilio, twilio_client


@dataclass(frozen=True)
class Fault:
    """A way a provider can fail, and what the transport must make of it."""

    name: str
    retryable: bool
    retry_after: float | None = None  # what the provider says in Retry-After
    maybe_accepted: bool = False  # the provider may have taken the message all the same


FAULTS = {
    fault.name: fault
    for fault in [
        Fault("http-500", retryable=True),
        Fault("http-503", retryable=True),
        Fault("http-429-retry-after", retryable=True, retry_after=17.0),
        Fault("http-400-invalid-number", retryable=False),
        Fault("http-401-bad-credentials", retryable=False),
        Fault("smtp-451-greylisted", retryable=True),
        Fault("smtp-452-storage-full", retryable=True),
        Fault("smtp-550-mailbox-unavailable", retryable=False),
        Fault("smtp-554-rejected", retryable=False),
        Fault("connection-refused", retryable=True),
        Fault("timeout", retryable=True, maybe_accepted=True),
    ]
}
TRANSIENT = frozenset(name for name, fault in FAULTS.items() if fault.retryable)
PERMANENT = frozenset(FAULTS) - TRANSIENT
QUICK_TIMEOUT = 0.05  # seconds: the stalled or silent provider never answers at all


@dataclass(frozen=True)
class Received:
    """One message as the provider got it (`subject` None where the channel has none)."""

    address: str
    subject: str | None
    body: str
    provider_id: str | None


class Harness:
    """A transport with its provider: break it, heal it, read what it received."""

    id: ClassVar[str]
    transport_name: ClassVar[str]
    accepted_state: ClassVar[str] = "sent"
    gives_provider_id: ClassVar[bool] = True
    carries_subject: ClassVar[bool] = False
    finds_sent: ClassVar[bool] = False
    send_faults: ClassVar[frozenset[str]] = frozenset()
    lookup_faults: ClassVar[frozenset[str]] = frozenset()
    channel: ClassVar[Channel]
    needs: ClassVar[tuple[str, ...]] = ()  # the provider fixtures __init__ takes, by name

    transport: Transport

    def message(
        self, id: int = 7, body: str = "青山河水位超警戒，请立即组织转移。"
    ) -> OutgoingMessage:
        address = (
            "duty@qingshan.example.gov.cn" if self.channel == Channel.email else "+8613800000101"
        )
        subject = "【预警】青山河水位超警戒" if self.carries_subject else ""
        return OutgoingMessage(
            id=id, channel=self.channel, address=address, subject=subject, body=body
        )

    def fail(self, fault: Fault) -> None:
        raise AssertionError(f"{self.id} cannot fail with {fault.name}")

    def heal(self) -> None:
        """The provider answers normally again."""

    def received(self) -> list[Received]:
        raise NotImplementedError

    async def close(self) -> None:
        await self.transport.close()


class ConsoleHarness(Harness):
    id = "console"
    transport_name = "console"
    accepted_state = "delivered"
    gives_provider_id = False
    carries_subject = True
    channel = Channel.email  # the console stands in for any channel; email shows the subject

    HEADER = re.compile(r"^\[console (\w+) #(\d+) -> (.*?)\](?: \| (.*))?$", re.MULTILINE)

    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.transport = ConsoleTransport(self.stream)

    def received(self) -> list[Received]:
        printed = self.stream.getvalue()
        headers = list(self.HEADER.finditer(printed))
        ends = [h.start() for h in headers[1:]] + [len(printed)]
        return [
            Received(
                address=h.group(3),
                subject=h.group(4),
                body=printed[h.end() + 1 : end].removesuffix("\n"),
                provider_id=None,
            )
            for h, end in zip(headers, ends, strict=True)
        ]


class RecordingHarness(Harness):
    id = "recording"
    transport_name = "recording"
    accepted_state = "delivered"
    channel = Channel.sms

    def __init__(self) -> None:
        self.transport = self.recording = RecordingTransport()

    def received(self) -> list[Received]:
        return [Received(m.address, None, m.body, f"rec-{m.id}") for m in self.recording.sent]


TWILIO_REFUSALS = {  # fault: (HTTP status, Twilio error code, message), as Twilio answers
    "http-500": (500, 20500, "Internal Server Error"),
    "http-503": (503, 20503, "Service Unavailable"),
    "http-429-retry-after": (429, 20429, "Too Many Requests"),
    "http-400-invalid-number": (400, 21211, "The 'To' number is not a valid phone number."),
    "http-401-bad-credentials": (401, 20003, "Authenticate"),
}


class TwilioHarness(Harness):
    needs = ("fake_twilio",)
    send_faults = frozenset(TWILIO_REFUSALS) | {"connection-refused", "timeout"}

    def __init__(self, fake_twilio: FakeTwilio) -> None:
        self.fake = fake_twilio
        self.client = twilio_client(fake_twilio)
        self._timeout = self.client.timeout

    def fail(self, fault: Fault) -> None:
        if fault.name in TWILIO_REFUSALS:
            self.fake.fail_next.append(TWILIO_REFUSALS[fault.name])
            if fault.retry_after is not None:
                self.fake.retry_after = int(fault.retry_after)
        elif fault.name == "connection-refused":
            self.client.client.api.base_url = f"http://127.0.0.1:{free_port()}"
        elif fault.name == "timeout":
            self.fake.stall_next, self.fake.stall_seconds = 1, 60  # released at fake.stop()
            self.client.timeout = QUICK_TIMEOUT
        else:
            super().fail(fault)

    def heal(self) -> None:
        self.fake.fail_next.clear()
        self.client.client.api.base_url = self.fake.url
        self.client.timeout = self._timeout

    async def close(self) -> None:
        await self.client.close()


class TwilioSmsHarness(TwilioHarness):
    id = "twilio-sms"
    transport_name = "twilio"
    channel = Channel.sms
    finds_sent = True
    lookup_faults = TwilioHarness.send_faults - {"http-400-invalid-number"}

    def __init__(self, fake_twilio: FakeTwilio) -> None:
        super().__init__(fake_twilio)
        self.transport = TwilioSmsTransport(
            self.client, from_number=FROM_NUMBER, messaging_service_sid=None
        )

    def received(self) -> list[Received]:
        return [Received(s.to, None, s.body, s.sid) for s in self.fake.sent]


class TwilioVoiceHarness(TwilioHarness):
    id = "twilio-voice"
    transport_name = "twilio-voice"
    channel = Channel.voice

    def __init__(self, fake_twilio: FakeTwilio) -> None:
        super().__init__(fake_twilio)
        self.transport = TwilioVoiceTransport(
            self.client, from_number=FROM_NUMBER, public_base_url="https://dutyd.example.gov.cn"
        )

    def received(self) -> list[Received]:
        """What the call says: the message (about no incident, so no prompt), twice."""
        out = []
        for call in self.fake.calls:
            said = [say.text or "" for say in ET.fromstring(call.twiml).iter("Say")]
            spoken = said[0] if said and said == [said[0]] * 2 else "\n".join(said)
            out.append(Received(call.to, None, spoken, call.sid))
        return out


SMTP_REFUSALS = {  # fault: (SMTP command, reply)
    "smtp-451-greylisted": ("RCPT", "451 4.7.1 Greylisted, please try again later"),
    "smtp-452-storage-full": ("DATA", "452 4.3.1 Insufficient system storage"),
    "smtp-550-mailbox-unavailable": ("RCPT", "550 5.1.1 Mailbox unavailable"),
    "smtp-554-rejected": ("DATA", "554 5.7.1 Message rejected as spam"),
}


class SmtpHarness(Harness):
    id = "smtp"
    transport_name = "smtp"
    carries_subject = True
    channel = Channel.email
    send_faults = frozenset(SMTP_REFUSALS) | {"connection-refused", "timeout"}
    needs = ("smtp_server", "clock")

    def __init__(self, smtp_server: SmtpServer, clock: Clock) -> None:
        self.server, self.clock = smtp_server, clock
        self.transport = self._live = smtp_transport(smtp_server.port, clock)
        self._silent: SilentServer | None = None

    def fail(self, fault: Fault) -> None:
        if fault.name in SMTP_REFUSALS:
            self.server.sink.refuse_next.append(SMTP_REFUSALS[fault.name])
        elif fault.name == "connection-refused":
            self.transport = smtp_transport(free_port(), self.clock)
        elif fault.name == "timeout":
            self._silent = SilentServer()
            self.transport = smtp_transport(
                self._silent.port, self.clock, timeout_seconds=QUICK_TIMEOUT
            )
        else:
            super().fail(fault)

    def heal(self) -> None:
        self.server.sink.refuse_next.clear()
        self.transport = self._live

    def received(self) -> list[Received]:
        return [
            Received(
                address=", ".join(mail.recipients),
                subject=mail.message["Subject"],
                body=self._text(mail.message),
                provider_id=mail.message["Message-ID"],
            )
            for mail in self.server.received
        ]

    @staticmethod
    def _text(mail: Any) -> str:
        """The plain-text part, with SMTP's CRLF line ends read back as the body's own."""
        text = mail.get_body(preferencelist=("plain",)).get_content()
        return text.replace("\r\n", "\n").removesuffix("\n")

    async def close(self) -> None:
        if self._silent is not None:
            self._silent.close()


HARNESSES: dict[str, type[Harness]] = {
    h.id: h
    for h in [ConsoleHarness, RecordingHarness, TwilioSmsHarness, TwilioVoiceHarness, SmtpHarness]
}


@pytest.fixture
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    """The transport named by the parameter, with its provider, started only if it has one;
    made in the running loop (aiohttp needs that)."""
    kind = HARNESSES[request.param]
    async with contextlib.AsyncExitStack() as stack:
        providers: dict[str, Any] = {}
        for name in kind.needs:
            if name == "fake_twilio":  # an async fixture cannot be asked for from here
                providers[name] = await stack.enter_async_context(FakeTwilio())
            else:
                providers[name] = request.getfixturevalue(name)
        made = kind(**providers)
        yield made
        await made.close()


def over_transports(where: Callable[[type[Harness]], bool] = lambda h: True) -> Any:
    def mark(test: Any) -> Any:
        test.contract_transports = where
        return test

    return mark


def over_faults(faults: Callable[[type[Harness]], Iterable[str]]) -> Any:
    def mark(test: Any) -> Any:
        test.contract_faults = faults
        return test

    return mark


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "harness" not in metafunc.fixturenames:
        return
    faults = getattr(metafunc.function, "contract_faults", None)
    if faults is not None:
        pairs = [
            pytest.param(h.id, FAULTS[name], id=f"{h.id}-{name}")
            for h in HARNESSES.values()
            for name in sorted(faults(h))
        ]
        metafunc.parametrize(("harness", "fault"), pairs, indirect=["harness"])
        return
    where = getattr(metafunc.function, "contract_transports", lambda h: True)
    metafunc.parametrize("harness", [h.id for h in HARNESSES.values() if where(h)], indirect=True)


def assert_failure(failure: pytest.ExceptionInfo[DeliveryFailed], fault: Fault) -> None:
    assert failure.value.retryable is fault.retryable, failure.value.reason
    assert failure.value.retry_after == fault.retry_after, failure.value.reason
    assert failure.value.reason


# 1. the same send


@over_transports()
async def test_send_hands_the_message_over_once(harness: Harness) -> None:
    """One send: the provider gets exactly this address, subject and body once; the receipt
    names the transport, the provider's id and the accepted state."""
    message = harness.message()
    receipt = await harness.transport.send(message)
    assert isinstance(receipt, Receipt)
    assert receipt.transport == harness.transport_name == harness.transport.name
    assert receipt.state == harness.accepted_state
    assert (receipt.provider_id is not None) is harness.gives_provider_id
    assert harness.received() == [
        Received(
            address=message.address,
            subject=message.subject if harness.carries_subject else None,
            body=message.body,
            provider_id=receipt.provider_id,
        )
    ]


@over_transports()
async def test_each_send_is_a_separate_hand_over(harness: Harness) -> None:
    """Two messages: two hand-overs, in order, with distinct provider ids where given."""
    first, second = harness.message(7, "第一条"), harness.message(8, "第二条")
    receipts = [await harness.transport.send(first), await harness.transport.send(second)]
    assert [r.body for r in harness.received()] == ["第一条", "第二条"]
    if harness.gives_provider_id:
        assert receipts[0].provider_id != receipts[1].provider_id


# 2. the same classification of provider faults


@over_faults(lambda h: h.send_faults & TRANSIENT)
async def test_transient_fault_is_retryable(harness: Harness, fault: Fault) -> None:
    """A transient provider fault raises DeliveryFailed(retryable=True), with the
    provider's Retry-After when it gave one, and nothing counts as handed over."""
    harness.fail(fault)
    with pytest.raises(DeliveryFailed) as failure:
        await harness.transport.send(harness.message())
    assert_failure(failure, fault)
    if not fault.maybe_accepted:
        assert harness.received() == []


@over_faults(lambda h: h.send_faults & PERMANENT)
async def test_permanent_refusal_is_not_retryable(harness: Harness, fault: Fault) -> None:
    """A permanent refusal raises DeliveryFailed(retryable=False) and nothing is received."""
    harness.fail(fault)
    with pytest.raises(DeliveryFailed) as failure:
        await harness.transport.send(harness.message())
    assert_failure(failure, fault)
    assert harness.received() == []


@over_faults(lambda h: h.send_faults)
async def test_send_goes_through_once_the_fault_clears(harness: Harness, fault: Fault) -> None:
    """A failed send leaves the transport usable: the next one, after the fault, arrives."""
    harness.fail(fault)
    with pytest.raises(DeliveryFailed):
        await harness.transport.send(harness.message(7, "失败的一条"))
    harness.heal()
    receipt = await harness.transport.send(harness.message(8, "恢复后的一条"))
    assert receipt.state == harness.accepted_state
    assert [r.body for r in harness.received()] == ["恢复后的一条"]
    assert harness.received()[0].provider_id == receipt.provider_id


# 3. the same lookup of an already sent message


@over_transports(lambda h: h.finds_sent)
async def test_find_sent_finds_a_message_accepted_since(harness: Harness) -> None:
    """A message the provider accepted after `since` is found, with the provider's id."""
    message = harness.message()
    since = datetime.now(UTC) - timedelta(seconds=5)  # the claim, less the outbox's margin
    sent = await harness.transport.send(message)
    found = await harness.transport.find_sent(message, since)
    assert found == Receipt(
        transport=harness.transport_name, provider_id=sent.provider_id, state="sent"
    )
    assert len(harness.received()) == 1  # looking sends nothing


@over_transports(lambda h: h.finds_sent)
async def test_find_sent_ignores_what_was_accepted_before_since(harness: Harness) -> None:
    """The same text to the same address accepted before `since` is not this message."""
    message = harness.message()
    await harness.transport.send(message)
    since = datetime.now(UTC) + timedelta(minutes=1)
    assert await harness.transport.find_sent(message, since) is None


@over_transports()
async def test_find_sent_is_none_for_a_message_never_sent(harness: Harness) -> None:
    """A message the provider never got is not found, even beside another to that address."""
    since = datetime.now(UTC) - timedelta(seconds=5)
    await harness.transport.send(harness.message(7, "另一条通知"))
    assert await harness.transport.find_sent(harness.message(8), since) is None


@over_transports(lambda h: not h.finds_sent)
async def test_find_sent_is_none_where_the_provider_cannot_tell(harness: Harness) -> None:
    """A transport that cannot ask its provider answers None, even for a message it sent."""
    message = harness.message()
    since = datetime.now(UTC) - timedelta(seconds=5)
    await harness.transport.send(message)
    assert await harness.transport.find_sent(message, since) is None


@over_faults(lambda h: h.lookup_faults)
async def test_failing_lookup_is_classified(harness: Harness, fault: Fault) -> None:
    """When the provider's lookup itself fails, find_sent raises DeliveryFailed, retryable
    for a transient fault (with Retry-After), not for a permanent one; never another error."""
    message = harness.message()
    since = datetime.now(UTC) - timedelta(seconds=5)
    await harness.transport.send(message)
    harness.fail(fault)
    with pytest.raises(DeliveryFailed) as failure:
        await harness.transport.find_sent(message, since)
    assert_failure(failure, fault)
    harness.heal()
    assert await harness.transport.find_sent(message, since) is not None


def test_every_fault_is_exercised_somewhere() -> None:
    """Every named fault is generated for some transport (the matrix has no dead rows), and
    only a transport that can look a message up has lookup faults."""
    used = set().union(*(h.send_faults | h.lookup_faults for h in HARNESSES.values()))
    assert used == set(FAULTS)
    assert all(not h.lookup_faults or h.finds_sent for h in HARNESSES.values())
