"""Local alert receivers for the tests: an SMTP server (aiosmtpd, with login) and an HTTP server that
records every POST's JSON body; either can be told to refuse the next N messages (a channel down)."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from email import message_from_bytes, policy

SMTP_USER, SMTP_PASSWORD = "alerts", "s3cret-pw"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class WebhookReceiver:
    """POSTs to http://127.0.0.1:<port>/hook/SECRET-TOKEN, recorded as parsed JSON in `posts`."""

    def __init__(self):
        self.posts: list[dict] = []
        self.refuse = 0
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.refuse > 0:
                    receiver.refuse -= 1
                    self.send_response(503)
                else:
                    receiver.posts.append(json.loads(body))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args):  # quiet
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook/SECRET-TOKEN"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def texts(self) -> list[str]:
        return [post["text"] for post in self.posts]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class SmtpReceiver:
    """An SMTP server that wants a login; received mails (email.message.EmailMessage) in `mails`."""

    def __init__(self):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.mails: list = []
        self.refuse = 0
        receiver = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                if receiver.refuse > 0:
                    receiver.refuse -= 1
                    return "451 try again later"
                receiver.mails.append(message_from_bytes(envelope.original_content, policy=policy.default))
                return "250 OK"

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = auth_data.login == SMTP_USER.encode() and auth_data.password == SMTP_PASSWORD.encode()
            return AuthResult(success=ok)

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                                     authenticator=authenticator, auth_require_tls=False)
        self.controller.start()
        self.url = f"smtp://{SMTP_USER}:{SMTP_PASSWORD}@127.0.0.1:{self.port}"

    def texts(self) -> list[str]:
        return [f"{mail['Subject']}\n{mail.get_content()}" for mail in self.mails]

    def stop(self):
        if self.controller.loop.is_running():
            self.controller.stop()
