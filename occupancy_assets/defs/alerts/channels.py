"""Where alert messages go: a webhook (Slack's incoming-webhook JSON, `{"text": ...}`, which Slack,
Teams workflows and Mattermost accept) and e-mail over SMTP. Each is off unless configured.

A channel raises `ChannelError` with a one-line reason that never holds a secret (the sensor logs it
and keeps the message for the next tick); the standard library is enough for both, so no client
package is pinned for them.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from occupancy_assets.lib.settings import Settings, redact_url

#: seconds a channel may take before it counts as down (the sensor tick must stay short)
TIMEOUT_SECONDS = 10


class ChannelError(RuntimeError):
    """A message could not be delivered; the text is safe to log (no secret)."""


@dataclass(frozen=True)
class Message:
    subject: str
    text: str

    def to_json(self) -> dict:
        return {"subject": self.subject, "text": self.text}


class WebhookChannel:
    name = "webhook"

    def __init__(self, url: str):
        self._url = url

    def __repr__(self) -> str:
        return f"WebhookChannel({redact_url(self._url)})"

    def send(self, message: Message) -> None:
        body = json.dumps({"text": f"*{message.subject}*\n{message.text}"}).encode()
        request = urllib.request.Request(self._url, data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                response.read()
        except OSError as err:  # URLError, HTTPError, timeouts
            reason = getattr(err, "reason", None) or getattr(err, "code", None) or type(err).__name__
            raise ChannelError(f"webhook {redact_url(self._url)}: {reason}") from None


class EmailChannel:
    name = "email"

    def __init__(self, url: str, to: tuple[str, ...], sender: str):
        self._url, self._to, self._from = url, to, sender

    def __repr__(self) -> str:
        return f"EmailChannel({redact_url(self._url)} -> {', '.join(self._to)})"

    def send(self, message: Message) -> None:
        parts = urlsplit(self._url)
        email = EmailMessage()
        email["Subject"], email["From"], email["To"] = message.subject, self._from, ", ".join(self._to)
        email.set_content(message.text)
        secure = parts.scheme == "smtps"
        client = smtplib.SMTP_SSL if secure else smtplib.SMTP
        kwargs = {"context": ssl.create_default_context()} if secure else {}
        try:
            with client(parts.hostname, parts.port or (465 if secure else 25), timeout=TIMEOUT_SECONDS, **kwargs) as smtp:
                smtp.ehlo()
                if not secure and smtp.has_extn("starttls"):  # smtp:// on 587: upgrade when the server offers it
                    smtp.starttls(context=ssl.create_default_context())
                if parts.username:
                    smtp.login(unquote(parts.username), unquote(parts.password or ""))
                smtp.send_message(email)
        except (OSError, smtplib.SMTPException) as err:
            raise ChannelError(f"email via {redact_url(self._url)}: {type(err).__name__}: {_first_line(err)}") from None


def _first_line(err: Exception) -> str:
    return (str(err).splitlines() or [""])[0][:200]


def configured_channels(settings: Settings) -> list:
    """The channels the settings turn on (possibly none)."""
    channels: list = []
    if settings.alert_webhook_url:
        channels.append(WebhookChannel(settings.alert_webhook_url))
    if settings.alert_smtp_url:
        channels.append(EmailChannel(settings.alert_smtp_url, settings.alert_email_to, settings.alert_email_from))
    return channels
