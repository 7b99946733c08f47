"""A real SMTP server on 127.0.0.1 for tests: aiosmtpd, recording what it accepts."""

from __future__ import annotations

import email
import email.policy
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from typing import Any

from aiosmtpd.controller import Controller

from reptidex.devstack import free_port

# aiosmtpd logs every SMTP command at INFO, which slows a busy server and floods the
# test output.
logging.getLogger("mail.log").setLevel(logging.WARNING)


@dataclass
class Recorder:
    """Keeps every accepted message; `on_rcpt` may act before a recipient is accepted."""

    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    on_rcpt: Callable[[int], None] | None = None
    rcpt_count: int = 0
    # Parse only the headers: enough for counting, and much cheaper under load.
    headers_only: bool = False

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        with self.lock:
            self.rcpt_count += 1
            count = self.rcpt_count
        if self.on_rcpt is not None:
            self.on_rcpt(count)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.headers_only:
            message = BytesHeaderParser(policy=email.policy.compat32).parsebytes(envelope.content)
        else:
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def subjects(self) -> list[str]:
        with self.lock:
            return [str(m["Subject"]) for m in self.messages]

    def send_keys(self) -> list[str]:
        with self.lock:
            return [str(m["X-ReptiDex-Send"]) for m in self.messages]


class SMTPServer:
    def __init__(self, *, headers_only: bool = False) -> None:
        self.recorder = Recorder(headers_only=headers_only)
        self.port = free_port()
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SMTPServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
