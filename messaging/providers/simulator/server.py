"""The WhatsApp Cloud API simulator: a real HTTP server speaking the documented shapes.

Graph endpoints (Bearer token checked when `access_token` is configured):

    POST /{version}/{phone_number_id}/messages        send, or mark as read (with or
                                                      without a typing indicator)
    POST /{version}/{phone_number_id}/media           upload (multipart) -> {id}
    POST /{version}/{app_id}/uploads?file_length=&file_type=   resumable upload -> {id}
    POST /{version}/upload:{session}                  its bytes (OAuth token, file_offset 0)
                                                      -> {h}: a template header example
    GET  /{version}/{waba_id}/message_templates       cursor paging: limit, after, before
    POST /{version}/{waba_id}/message_templates       create a template (checked as Meta
                                                      does), reviewed after a delay
    POST /{version}/{template_id}                     edit a template: back to review
    DELETE /{version}/{waba_id}/message_templates?name=&hsm_id=   delete a template
    GET  /{version}/{media_id}                        -> {url, mime_type, sha256, file_size, id}
    GET  /{version}/{phone_number_id}?fields=         the number's quality, tier, status, ...
    GET  /_sim/media/{media_id}                       the bytes behind that url

Control endpoints (no auth; bind to loopback):

    GET  /_sim/health  /_sim/counts  /_sim/messages?to=&limit=  /_sim/stats  /_sim/reads
    GET  /_sim/typing                                 wamids read with a typing indicator
    GET  /_sim/attempts?to=                           every send request, refused ones too
    GET  /_sim/webhooks                               recent webhook deliveries
    GET|POST /_sim/config                             read / merge runtime config
    POST /_sim/reset                                  clear state ({"config": true} also config)
    GET|POST /_sim/templates                          read / replace the template library
    POST /_sim/inbound  /_sim/user_preferences  /_sim/template_status   post a signed webhook
    POST /_sim/template_quality  /_sim/template_category   re-rate or re-categorise a template
                                                      and post Meta's webhook
    GET  /_sim/numbers?phone_number_id=               a number's health, as Graph reports it
    POST /_sim/number_event                           change a number's quality, tier or status
                                                      and post the webhooks Meta would

Usage from a test::

    with SimulatorServer(config={"access_token": "t", "app_secret": "s"}) as sim:
        provider = MetaCloudProvider(graph_url=sim.url, access_token="t", ...)
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import email.parser
import email.policy
import hashlib
import json
import logging
import random
import re
import socket
import threading
import time
import urllib.parse
import uuid
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..template_rules import template_problems
from .config import SimulatorConfig
from .errors import HTTP_ONLY_STATUSES, SimulatorError, graph_error_body, status_error
from .media import MediaItem
from .numbers import Numbers
from .state import SimState
from .validation import ReadRequest, SendRequest, check_template, parse_send_body
from .webhooks import Job, WebhookDispatcher

logger = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 110 * 1024 * 1024
MAX_TEMPLATE_PAGE = 1000
_GRAPH_PATH = re.compile(r"^/(?P<version>v\d+(?:\.\d+)?)/(?P<node>[^/]+)(?:/(?P<edge>[^/]+))?/?$")
_OUTSIDE_WINDOW = (
    "Message failed to send because more than 24 hours have passed since the customer last "
    "replied to this number."
)
_UNSUPPORTED = (
    "Unsupported {method} request. Object with ID '{node}' does not exist, cannot be loaded due "
    "to missing permissions, or does not support this operation."
)


@dataclasses.dataclass
class _Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    hang: float = 0.0


def _json_response(status: int, payload: Any, *, hang: float = 0.0) -> _Response:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return _Response(status, body, hang=hang)


def _digits(value: Any) -> str:
    return "".join(ch for ch in str(value or "") if ch.isdigit())


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], simulator: SimulatorServer) -> None:
        self.simulator = simulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request, client_address):  # type: ignore[no-untyped-def]
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):  # type: ignore[no-untyped-def]
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake idle keep-alive handler threads so they exit with the server."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request, client_address):  # type: ignore[no-untyped-def]
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "WhatsAppSimulator/1.0"
    sys_version = ""
    timeout = 300  # idle keep-alive connections are closed after this

    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                total += size
                if total > MAX_REQUEST_BYTES:
                    raise ValueError("request body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BYTES:
            raise ValueError("request body too large")
        return self.rfile.read(length) if length else b""

    def _handle(self, method: str) -> None:
        simulator = self.server.simulator
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            self._write(_json_response(400, graph_error_body(100, "Unreadable request body.")))
            return
        try:
            response = simulator.route(method, self.path, body, self.headers)
        except Exception:
            logger.exception("simulator failed on %s %s", method, self.path)
            response = _json_response(500, graph_error_body(1))
        if response.hang:
            # Accepted and counted; now sit on the answer past the client's read timeout.
            simulator.stop_event.wait(response.hang)
        try:
            self._write(response)
        except OSError:  # the client gave up (e.g. after a hang)
            self.close_connection = True

    def _write(self, response: _Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(response.body)
        self.wfile.flush()


class SimulatorServer:
    """The simulator. `start()` serves from a background thread (tests); `serve_forever()`
    serves in the foreground until Ctrl-C (the management command). Port 0 picks a free port;
    the socket is bound in the constructor so `url` is known before starting."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        config: SimulatorConfig | Mapping[str, Any] | None = None,
    ) -> None:
        if isinstance(config, SimulatorConfig):
            base = config
            one_shots: dict[str, Any] = {}
        else:
            updates = dict(config or {})
            one_shots = {k: updates.pop(k) for k in ("error_storm", "hang_next") if k in updates}
            base = SimulatorConfig().merged(updates)
        self._initial_config = base
        self.config = base
        self.state = SimState(max_messages=base.max_messages_kept)
        self.numbers = Numbers()
        self.stop_event = threading.Event()
        self.dispatcher = WebhookDispatcher(
            config=lambda: self.config, on_delivery=self.state.record_delivery
        )
        self._httpd = _HTTPServer((host, port), self)
        self._thread: threading.Thread | None = None
        self._foreground: threading.Thread | None = None
        self._started = False
        self._apply_one_shots(one_shots)

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        host = self.host
        if host in ("0.0.0.0", ""):  # noqa: S104 (reporting, not binding)
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def start(self) -> SimulatorServer:
        if self._started:
            return self
        self._started = True
        self.dispatcher.start()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="whatsapp-simulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until KeyboardInterrupt or `stop()` from elsewhere."""
        self._started = True
        self._foreground = threading.current_thread()
        self.dispatcher.start()
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            self._foreground = None
            self.stop()

    def stop(self) -> None:
        self.stop_event.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=2)
            self._thread = None
        elif self._foreground is not None and self._foreground is not threading.current_thread():
            self._httpd.shutdown()  # serve_forever() returns and finishes the cleanup
            return
        self.dispatcher.stop()
        self._httpd.close_connections()
        self._httpd.server_close()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- in-process control (the HTTP control endpoints call these) --------------------------

    def configure(self, updates: Mapping[str, Any] | None = None, **kwargs: Any) -> SimulatorConfig:
        changes = {**(updates or {}), **kwargs}
        one_shots = {k: changes.pop(k) for k in ("error_storm", "hang_next") if k in changes}
        self.config = self.config.merged(changes)
        self._apply_one_shots(one_shots)
        return self.config

    def _apply_one_shots(self, one_shots: Mapping[str, Any]) -> None:
        if "error_storm" in one_shots:
            self.state.set_storm(one_shots["error_storm"])
        if "hang_next" in one_shots:
            self.state.set_hang_next(one_shots["hang_next"])

    def reset(self, *, config: bool = False) -> None:
        self.dispatcher.clear()
        self.state.reset()
        self.numbers.reset()
        if config:
            self.config = self._initial_config

    def counts(self) -> dict[str, int]:
        with self.state.lock:
            return dict(self.state.counts)

    def messages(self, to: str | None = None) -> list[dict[str, Any]]:
        return self.state.list_messages(to=to, limit=0)

    def attempts(self, to: str | None = None) -> list[dict[str, Any]]:
        """Every send request with a recipient: `{"to", "time", "outcome"}`, oldest first."""
        with self.state.lock:
            items = list(self.state.attempts)
        if to:
            wanted = _digits(to) or to
            items = [a for a in items if a["to"] == wanted]
        return items

    def typing_indicators(self) -> list[str]:
        """The wamids a typing indicator was shown for (with their read mark), oldest first."""
        with self.state.lock:
            return list(self.state.typing_indicators)

    def wait_webhooks(self, timeout: float = 5.0) -> bool:
        """Block until every scheduled webhook has been posted (or given up)."""
        return self.dispatcher.wait_idle(timeout)

    # --- routing -----------------------------------------------------------------------------

    def route(
        self, method: str, raw_path: str, body: bytes, headers: Mapping[str, str]
    ) -> _Response:
        url = urllib.parse.urlsplit(raw_path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        path = url.path
        if path.startswith("/_sim/"):
            return self._control(method, path[len("/_sim/") :], query, body, headers)
        match = _GRAPH_PATH.match(path)
        try:
            if not match:
                raise SimulatorError(
                    100,
                    message=_UNSUPPORTED.format(method=method.lower(), node=path),
                    error_type="GraphMethodException",
                )
            node, edge = match["node"], match["edge"]
            if method == "POST" and edge is None and node.startswith("upload:"):
                return self._upload_part(node, body, headers)
            self._check_token(headers)
            host = headers.get("Host") or f"{self.host}:{self.port}"
            if method == "POST" and edge == "messages":
                return self._send(node, body)
            if method == "POST" and edge == "media":
                return self._upload(node, body, headers.get("Content-Type", ""))
            if method == "POST" and edge == "uploads":
                return self._upload_session(node, query)
            if method == "GET" and edge == "message_templates":
                return self._templates(match["version"], node, query, host)
            if method == "POST" and edge == "message_templates":
                return self._template_create(node, body)
            if method == "DELETE" and edge == "message_templates":
                return self._template_delete(node, query)
            if method == "POST" and edge is None and self.state.template_by_id(node):
                return self._template_edit(node, body)
            if method == "GET" and edge is None and self.numbers.known(node, self.config):
                number = self.numbers.graph(node, self.config, query.get("fields"))
                return _json_response(200, number)
            if method == "GET" and edge is None:
                return self._media_info(node, host)
            raise SimulatorError(
                100,
                message=_UNSUPPORTED.format(method=method.lower(), node=node),
                error_type="GraphMethodException",
            )
        except SimulatorError as exc:
            self.state.record_rejected(exc.code)
            return _json_response(exc.http_status, exc.body())

    def _check_token(self, headers: Mapping[str, str]) -> None:
        token = self.config.access_token
        if not token:
            return
        received = headers.get("Authorization") or ""
        if received != f"Bearer {token}":
            raise SimulatorError(190)

    @staticmethod
    def _json(body: bytes) -> Any:
        try:
            return json.loads(body or b"null")
        except (ValueError, UnicodeDecodeError):
            raise SimulatorError(100, "The request body is not valid JSON.") from None

    # --- sending -----------------------------------------------------------------------------

    def _send(self, phone_number_id: str, raw: bytes) -> _Response:
        config = self.config
        if config.phone_number_ids and phone_number_id not in config.phone_number_ids:
            raise SimulatorError(
                100,
                message=_UNSUPPORTED.format(method="post", node=phone_number_id),
                error_type="GraphMethodException",
            )
        request = parse_send_body(self._json(raw))
        if isinstance(request, ReadRequest):
            with self.state.lock:
                self.state.read_marks.append(request.wamid)
                self.state.stats["read_marks"] += 1
                if request.typing_indicator:
                    self.state.typing_indicators.append(request.wamid)
                    self.state.stats["typing_indicators"] += 1
            return _json_response(200, {"success": True})

        try:
            response = self._send_checked(config, phone_number_id, request)
        except SimulatorError as exc:
            self.state.record_attempt(request.recipient_key, f"rejected:{exc.code}")
            raise
        self.state.record_attempt(request.recipient_key, f"http:{response.status}")
        return response

    def _send_checked(
        self, config: SimulatorConfig, phone_number_id: str, request: SendRequest
    ) -> _Response:
        storm = self.state.take_storm()
        if storm is not None:
            if storm in HTTP_ONLY_STATUSES:
                self.state.record_rejected(storm)
                if storm == 500:
                    return _json_response(500, graph_error_body(1))
                page = f"<html><body><h1>{storm} Server Error</h1></body></html>".encode()
                return _Response(storm, page, "text/html")
            raise SimulatorError(storm, "Injected by the simulator's error storm.")
        if not self.state.take_throughput_slot(config.mps):
            raise SimulatorError(
                130429, f"Throughput of {config.mps:g} messages per second reached."
            )

        failure: tuple[int, str] | None = None
        rule = config.fail_rule(request.wa_id or request.bsuid or "")
        if rule is not None:
            code, mode = rule
            details = f"Simulated failure for {request.to_input}."
            if mode == "sync":
                raise SimulatorError(code, details)
            failure = (code, details)

        template = None
        if request.kind == "template":
            content = request.content
            template = self.state.find_template(content["name"], content["language"]["code"])
            if config.strict_templates:
                check_template(template, content)
        outside_window = request.wa_id in config.outside_window_numbers
        if failure is None and request.kind != "template" and outside_window:
            failure = (131047, _OUTSIDE_WINDOW)

        return self._accept(config, phone_number_id, request, template, failure)

    def _accept(
        self,
        config: SimulatorConfig,
        phone_number_id: str,
        request: SendRequest,
        template: Mapping[str, Any] | None,
        failure: tuple[int, str] | None,
    ) -> _Response:
        wamid = self.state.new_wamid(request.recipient_key)
        user_id = request.bsuid or self.state.bsuid_for(request.wa_id or "", config.waba_id)
        record = {
            "wamid": wamid,
            "to": request.recipient_key,
            "input": request.to_input,
            "phone_number_id": phone_number_id,
            "type": request.kind,
            "body": request.content,
            "template": request.content.get("name") if request.kind == "template" else None,
            "callback_data": request.callback_data,
            "context_wamid": request.context_wamid,
            "time": time.time(),
            "outcome": f"failed:{failure[0]}" if failure else "accepted",
        }
        self.state.record_accepted(record, request.recipient_key)
        self._schedule_statuses(config, phone_number_id, request, wamid, user_id, template, failure)

        contact: dict[str, Any] = {"input": request.to_input}
        if request.wa_id:
            contact["wa_id"] = request.wa_id
        contact["user_id"] = user_id
        message: dict[str, Any] = {"id": wamid}
        if request.kind == "template":
            message["message_status"] = "accepted"
        hang = request.wa_id in config.hang_numbers or self.state.take_hang()
        return _json_response(
            200,
            {"messaging_product": "whatsapp", "contacts": [contact], "messages": [message]},
            hang=config.hang_seconds if hang else 0.0,
        )

    def _schedule_statuses(
        self,
        config: SimulatorConfig,
        phone_number_id: str,
        request: SendRequest,
        wamid: str,
        user_id: str,
        template: Mapping[str, Any] | None,
        failure: tuple[int, str] | None,
    ) -> None:
        if not config.webhooks or not config.webhook_url:
            return
        if request.kind == "template":
            category = str((template or {}).get("category") or "marketing").lower()
            pricing_type, billable = "regular", True
        else:
            category, pricing_type, billable = "service", "free_customer_service", False
        now = time.time()
        base: dict[str, Any] = {"id": wamid}
        if request.wa_id:
            base["recipient_id"] = request.wa_id
        base["recipient_user_id"] = user_id
        if request.callback_data:
            base["biz_opaque_callback_data"] = request.callback_data
        conversation_id = hashlib.sha256(
            f"{phone_number_id}:{request.recipient_key}:{category}:{int(now // 86400)}".encode()
        ).hexdigest()[:32]

        delays = config.delays
        if failure:
            steps = [("failed", delays["sent"])]
        else:
            steps = [("sent", delays["sent"])]
            steps.append(("delivered", steps[-1][1] + delays["delivered"]))
            if random.random() < config.read_ratio:
                steps.append(("read", steps[-1][1] + delays["read"]))
        emit_at = [offset for _, offset in steps]
        if config.reorder_statuses:
            emit_at.reverse()
        for (status, offset), emit in zip(steps, emit_at, strict=True):
            item = {**base, "status": status, "timestamp": str(int(now + offset))}
            if failure:
                item["errors"] = [status_error(*failure)]
            else:
                conversation: dict[str, Any] = {"id": conversation_id, "origin": {"type": category}}
                if status == "sent":
                    conversation["expiration_timestamp"] = str(int(now + 86400))
                item["conversation"] = conversation
                item["pricing"] = {
                    "billable": billable,
                    "pricing_model": "PMP",
                    "category": category,
                    "type": pricing_type,
                }
            job = Job("messages", config.waba_id, phone_number_id, {"statuses": [item]})
            self.dispatcher.schedule(job, emit)
            if config.duplicate_statuses:
                self.dispatcher.schedule(dataclasses.replace(job), emit + 0.02)

    # --- templates and media ------------------------------------------------------------------

    def _templates(
        self, version: str, waba_id: str, query: Mapping[str, str], host: str
    ) -> _Response:
        try:
            limit = min(max(int(query.get("limit", 25)), 1), MAX_TEMPLATE_PAGE)
        except ValueError:
            raise SimulatorError(100, "Param limit must be an integer.") from None
        templates = self.state.templates_snapshot()
        for key in ("status", "category", "language"):
            if query.get(key):
                wanted = {v.strip().upper() for v in query[key].split(",")}
                templates = [t for t in templates if str(t.get(key, "")).upper() in wanted]
        if query.get("name"):
            templates = [t for t in templates if query["name"].lower() in t["name"].lower()]
        start = 0
        if query.get("after"):
            start = self._cursor_value(query["after"]) + 1
        elif query.get("before"):
            start = max(0, self._cursor_value(query["before"]) - limit)
        page = templates[start : start + limit]
        result: dict[str, Any] = {"data": page}
        if page:
            cursors = {"before": self._cursor(start), "after": self._cursor(start + len(page) - 1)}
            paging: dict[str, Any] = {"cursors": cursors}
            base = f"http://{host}/{version}/{waba_id}/message_templates"
            extra = {k: v for k, v in query.items() if k not in ("after", "before", "limit")}
            if start + len(page) < len(templates):
                params = urllib.parse.urlencode(
                    {**extra, "limit": limit, "after": cursors["after"]}
                )
                paging["next"] = f"{base}?{params}"
            if start > 0:
                params = urllib.parse.urlencode(
                    {**extra, "limit": limit, "before": cursors["before"]}
                )
                paging["previous"] = f"{base}?{params}"
            result["paging"] = paging
        return _json_response(200, result)

    # --- template management (README "Template builder") ------------------------------------

    def _review_outcome(self, components: Any) -> tuple[str, str]:
        """APPROVED, or REJECTED when the body contains the configured marker."""
        config = self.config
        marker = config.template_reject_marker.strip().lower()
        body = next(
            (
                str(c.get("text") or "")
                for c in components or ()
                if isinstance(c, Mapping) and str(c.get("type", "")).upper() == "BODY"
            ),
            "",
        )
        if marker and marker in body.lower():
            return "REJECTED", config.template_reject_reason or "INVALID_FORMAT"
        return "APPROVED", "NONE"

    @staticmethod
    def _refuse(definition: Mapping[str, Any]) -> None:
        problems = template_problems(definition)
        if problems:
            raise SimulatorError(
                100,
                message="(#100) Invalid parameter",
                user_title="Template is invalid",
                user_msg="; ".join(str(p) for p in problems),
            )

    def _review_webhook(self, template: Mapping[str, Any], outcome: str, reason: str) -> None:
        """Meta's `message_template_status_update` once the review is over."""
        delay = self.config.template_review_delay
        value: dict[str, Any] = {
            "event": outcome,
            "message_template_id": int(template["id"]),
            "message_template_name": template["name"],
            "message_template_language": template["language"],
            "reason": reason if outcome == "REJECTED" else "NONE",
            "message_template_category": template["category"],
        }
        if outcome == "REJECTED":
            value["rejection_info"] = {
                "reason": f"The simulator rejects bodies containing "
                f"{self.config.template_reject_marker!r}.",
                "recommendation": "Remove the marker and edit the template.",
            }
        at = int(time.time() + delay)
        job = Job("message_template_status_update", self.config.waba_id, None, value, time=at)
        self.dispatcher.schedule(job, delay)

    def _template_create(self, waba_id: str, raw: bytes) -> _Response:
        payload = self._json(raw)
        if not isinstance(payload, dict):
            raise SimulatorError(100, "The request body must be a JSON object.")
        definition = {
            "name": payload.get("name"),
            "language": payload.get("language"),
            "category": str(payload.get("category") or "").upper(),
            "parameter_format": str(payload.get("parameter_format") or "").upper() or None,
            "components": payload.get("components"),
        }
        self._refuse(definition)
        outcome, reason = self._review_outcome(definition["components"])
        try:
            template = self.state.template_create(
                definition,
                review_in=self.config.template_review_delay,
                outcome=outcome,
                reason=reason,
            )
        except KeyError:
            raise SimulatorError(
                100,
                message="(#100) Invalid parameter",
                user_title="Message template already exists",
                user_msg=f"There is already {definition['language']} content for this template "
                "name. Create a new template or edit the existing one.",
            ) from None
        self._review_webhook(template, outcome, reason)
        return _json_response(
            200, {"id": template["id"], "status": "PENDING", "category": template["category"]}
        )

    def _template_edit(self, template_id: str, raw: bytes) -> _Response:
        payload = self._json(raw)
        if not isinstance(payload, dict):
            raise SimulatorError(100, "The request body must be a JSON object.")
        current = self.state.template_by_id(template_id) or {}
        if str(current.get("status")).upper() not in ("APPROVED", "REJECTED", "PAUSED"):
            raise SimulatorError(
                100,
                message="(#100) Invalid parameter",
                user_title="Template can't be edited",
                user_msg=f"Templates with status {current.get('status')} can't be edited.",
            )
        category = str(payload.get("category") or "").upper() or None
        definition = {
            **current,
            "components": payload.get("components", current.get("components")),
            "category": category or current.get("category"),
        }
        self._refuse(definition)
        outcome, reason = self._review_outcome(definition["components"])
        template = self.state.template_edit(
            template_id,
            components=definition["components"],
            category=category,
            review_in=self.config.template_review_delay,
            outcome=outcome,
            reason=reason,
        )
        if template is None:  # deleted meanwhile
            raise SimulatorError(100, message=_UNSUPPORTED.format(method="post", node=template_id))
        self._review_webhook(template, outcome, reason)
        return _json_response(200, {"success": True})

    def _template_delete(self, waba_id: str, query: Mapping[str, str]) -> _Response:
        name = query.get("name")
        if not name:
            raise SimulatorError(100, "The parameter name is required.")
        gone = self.state.template_delete(name, query.get("hsm_id"))
        if not gone:
            raise SimulatorError(
                100,
                message="(#100) Invalid parameter",
                user_title="Message template not found",
                user_msg=f"Message template {name!r} was not found.",
            )
        at = int(time.time())
        for template in gone:
            value = {
                "event": "DELETED",
                "message_template_id": int(template["id"]),
                "message_template_name": template["name"],
                "message_template_language": template["language"],
                "reason": "NONE",
                "message_template_category": template.get("category"),
            }
            job = Job("message_template_status_update", self.config.waba_id, None, value, time=at)
            self.dispatcher.schedule(job, 0.0)
        return _json_response(200, {"success": True})

    @staticmethod
    def _cursor(index: int) -> str:
        return base64.urlsafe_b64encode(f"tpl:{index}".encode()).decode().rstrip("=")

    @staticmethod
    def _cursor_value(cursor: str) -> int:
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            text = base64.urlsafe_b64decode(padded.encode()).decode()
            return int(text.removeprefix("tpl:"))
        except (ValueError, UnicodeDecodeError):
            raise SimulatorError(100, "Invalid paging cursor.") from None

    def _media_info(self, media_id: str, host: str) -> _Response:
        item = self.state.media.get(media_id)
        if item is None:
            raise SimulatorError(
                100,
                message=_UNSUPPORTED.format(method="get", node=media_id),
                error_type="GraphMethodException",
            )
        return _json_response(
            200,
            {
                "messaging_product": "whatsapp",
                "url": f"http://{host}/_sim/media/{media_id}",
                "mime_type": item.mime_type,
                "sha256": item.sha256,
                "file_size": item.file_size,
                "id": media_id,
            },
        )

    def _upload(self, phone_number_id: str, body: bytes, content_type: str) -> _Response:
        if not content_type.lower().startswith("multipart/form-data"):
            raise SimulatorError(100, "Upload media with multipart/form-data.")
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
        )
        fields: dict[str, Any] = {}
        upload = None
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if part.get_filename() is not None or name == "file":
                upload = (part.get_payload(decode=True) or b"", part.get_filename(), part)
            elif name:
                fields[str(name)] = (part.get_payload(decode=True) or b"").decode()
        if fields.get("messaging_product") != "whatsapp":
            raise SimulatorError(131008, "The parameter messaging_product is required.")
        if upload is None or not upload[0]:
            raise SimulatorError(131008, "The parameter file is required.")
        mime_type = fields.get("type") or upload[2].get_content_type()
        item = self.state.add_media(upload[0], mime_type, upload[1])
        return _json_response(200, {"id": item.media_id})

    def _upload_session(self, app_id: str, query: Mapping[str, str]) -> _Response:
        """Graph's resumable upload, step one: `POST /{app_id}/uploads?file_length&file_type`."""
        try:
            length = int(query.get("file_length", ""))
        except ValueError:
            raise SimulatorError(100, "The parameter file_length is required.") from None
        if length <= 0 or not query.get("file_type"):
            raise SimulatorError(100, "The parameters file_length and file_type are required.")
        session = f"upload:{uuid.uuid4().hex}"
        with self.state.lock:
            self.state.upload_sessions[session] = {
                "length": length,
                "type": query["file_type"],
                "name": query.get("file_name"),
            }
        return _json_response(200, {"id": session})

    def _upload_part(self, session: str, body: bytes, headers: Mapping[str, str]) -> _Response:
        """Step two: the bytes, with `Authorization: OAuth <token>` and `file_offset: 0`;
        answers the handle `h` a template's `example.header_handle` takes."""
        token = self.config.access_token
        if token and (headers.get("Authorization") or "") != f"OAuth {token}":
            raise SimulatorError(190)
        with self.state.lock:
            upload = self.state.upload_sessions.pop(session, None)
        if upload is None:
            raise SimulatorError(100, f"Unknown upload session {session}.")
        if str(headers.get("file_offset", "")) != "0" or len(body) != upload["length"]:
            raise SimulatorError(100, "The upload must send file_length bytes from offset 0.")
        handle = f"4::{uuid.uuid4().hex}"
        with self.state.lock:
            self.state.header_handles[handle] = MediaItem(
                handle, body, upload["type"], upload["name"]
            )
        return _json_response(200, {"h": handle})

    # --- control endpoints -------------------------------------------------------------------

    def _control(
        self,
        method: str,
        name: str,
        query: Mapping[str, str],
        body: bytes,
        headers: Mapping[str, str],
    ) -> _Response:
        try:
            if name.startswith("media/") and method == "GET":
                return self._media_bytes(name[len("media/") :], headers)
            handler = getattr(self, f"_control_{method.lower()}_{name}", None)
            if handler is None:
                return _json_response(404, {"error": f"no such control endpoint: {method} {name}"})
            payload = json.loads(body) if body.strip() else {}
            return handler(query, payload)
        except (ValueError, TypeError, KeyError) as exc:
            return _json_response(400, {"error": str(exc) or type(exc).__name__})
        except SimulatorError as exc:
            return _json_response(exc.http_status, exc.body())

    def _media_bytes(self, media_id: str, headers: Mapping[str, str]) -> _Response:
        self._check_token(headers)
        item = self.state.media.get(media_id)
        if item is None:
            return _json_response(404, {"error": "media not found or expired"})
        return _Response(200, item.content, item.mime_type)

    def _control_get_health(self, query: Any, payload: Any) -> _Response:
        return _json_response(200, {"ok": True})

    def _control_get_counts(self, query: Any, payload: Any) -> _Response:
        return _json_response(200, self.counts())

    def _control_get_messages(self, query: Mapping[str, str], payload: Any) -> _Response:
        limit = int(query.get("limit", 1000))
        return _json_response(200, self.state.list_messages(to=query.get("to"), limit=limit))

    def _control_get_attempts(self, query: Mapping[str, str], payload: Any) -> _Response:
        return _json_response(200, self.attempts(to=query.get("to")))

    def _control_get_reads(self, query: Any, payload: Any) -> _Response:
        with self.state.lock:
            return _json_response(200, list(self.state.read_marks))

    def _control_get_typing(self, query: Any, payload: Any) -> _Response:
        return _json_response(200, self.typing_indicators())

    def _control_get_stats(self, query: Any, payload: Any) -> _Response:
        with self.state.lock:
            stats = dict(self.state.stats)
            stats["webhook_latency_ms"] = self.state.webhook_latency_ms()
            rejected = {str(code): n for code, n in self.state.rejections.items()}
            recipients = len(self.state.counts)
        return _json_response(
            200,
            {
                **stats,
                "rejected_by_code": rejected,
                "recipients": recipients,
                "webhooks_pending": self.dispatcher.pending(),
                "webhooks_in_flight": self.dispatcher.in_flight(),
            },
        )

    def _control_get_webhooks(self, query: Any, payload: Any) -> _Response:
        with self.state.lock:
            deliveries = list(self.state.deliveries)
        return _json_response(
            200, {"pending": self.dispatcher.pending(), "deliveries": deliveries[-100:]}
        )

    def _control_post_receiver(self, query: Any, payload: Any) -> _Response:
        """A stand-in integrator for Parley's event webhooks (the demo subscribes it): counts
        what arrives, by event type, and keeps the last few events' ids and types."""
        if not isinstance(payload, dict) or "id" not in payload or "type" not in payload:
            raise ValueError("not an event webhook body")
        with self.state.lock:
            self.state.stats["events_received"] += 1
            self.state.stats[f"events_received:{payload['type']}"] += 1
            self.state.received_events.append(
                {"id": str(payload["id"]), "type": str(payload["type"])}
            )
        return _json_response(200, {"received": True})

    def _control_get_receiver(self, query: Any, payload: Any) -> _Response:
        with self.state.lock:
            events = list(self.state.received_events)
            received = self.state.stats["events_received"]
        return _json_response(200, {"received": received, "last": events[-20:]})

    def _config_view(self) -> dict[str, Any]:
        with self.state.lock:
            storm = (
                {"code": self.state.storm_code, "count": self.state.storm_remaining}
                if self.state.storm_remaining
                else None
            )
            hang_next = self.state.hang_remaining
        return {**self.config.as_dict(), "error_storm": storm, "hang_next": hang_next}

    def _control_get_config(self, query: Any, payload: Any) -> _Response:
        return _json_response(200, self._config_view())

    def _control_post_config(self, query: Any, payload: Any) -> _Response:
        if not isinstance(payload, dict):
            raise ValueError("config must be a JSON object")
        self.configure(payload)
        return _json_response(200, self._config_view())

    def _control_post_reset(self, query: Any, payload: Any) -> _Response:
        self.reset(config=bool(isinstance(payload, dict) and payload.get("config")))
        return _json_response(200, {"ok": True})

    def _control_get_templates(self, query: Any, payload: Any) -> _Response:
        return _json_response(200, {"data": self.state.templates_snapshot()})

    def _control_post_templates(self, query: Any, payload: Any) -> _Response:
        templates = payload.get("templates") if isinstance(payload, dict) else payload
        if not isinstance(templates, list):
            raise ValueError('send {"templates": [...]} or a list of templates')
        self.state.replace_templates(templates)
        return _json_response(200, {"ok": True, "count": len(templates)})

    def _webhook_target_ready(self) -> bool:
        return bool(self.config.webhooks and self.config.webhook_url)

    def _contact(self, wa_id: str | None, bsuid: str | None, name: Any) -> dict[str, Any]:
        """The `contacts[]` entry; a user keeps the profile name they were last given."""
        key = wa_id or bsuid or ""
        with self.state.lock:
            if name:
                self.state.profile_names[key] = str(name)
            name = self.state.profile_names.get(key, "Simulated User")
        contact: dict[str, Any] = {"profile": {"name": name}}
        if wa_id:
            contact["wa_id"] = wa_id
        contact["user_id"] = bsuid or self.state.bsuid_for(wa_id or "", self.config.waba_id)
        return contact

    def _control_post_inbound(self, query: Any, payload: Any) -> _Response:
        """Post an inbound message webhook: text, button tap, interactive reply, reaction,
        location, image (served by the simulator), or any raw `message` object."""
        if not isinstance(payload, dict):
            raise ValueError("inbound must be a JSON object")
        config = self.config
        wa_id = _digits(payload.get("from")) or None
        bsuid = payload.get("bsuid") or None
        if not wa_id and not bsuid:
            raise ValueError("'from' (digits) or 'bsuid' is required")
        contact = self._contact(wa_id, bsuid, payload.get("profile_name"))
        wamid = self.state.new_wamid(wa_id or bsuid)
        message: dict[str, Any] = {}
        if wa_id:
            message["from"] = wa_id
        message["from_user_id"] = contact["user_id"]
        message["id"] = wamid
        message["timestamp"] = str(int(payload.get("timestamp") or time.time()))
        if payload.get("context_wamid"):
            message["context"] = {
                "from": config.display_phone_number,
                "id": str(payload["context_wamid"]),
            }
        if "button" in payload:
            button = payload["button"]
            if not isinstance(button, dict) or not button.get("payload"):
                raise ValueError("button needs a payload (and usually a text)")
            message["type"] = "button"
            message["button"] = {
                "payload": button["payload"],
                "text": button.get("text", button["payload"]),
            }
        elif "interactive" in payload:
            interactive = payload["interactive"]
            if not isinstance(interactive, dict) or not interactive.get("type"):
                raise ValueError("interactive needs a type (button_reply, list_reply, nfm_reply)")
            message["type"] = "interactive"
            message["interactive"] = interactive
        elif "reaction" in payload:
            message["type"] = "reaction"
            message["reaction"] = dict(payload["reaction"])
        elif "location" in payload:
            message["type"] = "location"
            message["location"] = dict(payload["location"])
        elif "image" in payload:
            image = payload["image"] if isinstance(payload["image"], dict) else {}
            item = self.state.generated_image(seed=len(wamid))
            message["type"] = "image"
            message["image"] = {
                "id": item.media_id,
                "mime_type": item.mime_type,
                "sha256": item.sha256,
            }
            if image.get("caption"):
                message["image"]["caption"] = image["caption"]
        elif "text" in payload:
            message["type"] = "text"
            message["text"] = {"body": str(payload["text"])}
        elif "message" not in payload:
            raise ValueError(
                "give one of text, button, interactive, reaction, location, image, message"
            )
        if isinstance(payload.get("message"), dict):
            message.update(payload["message"])
        phone_number_id = str(payload.get("phone_number_id") or config.phone_number_id)
        job = Job(
            "messages",
            config.waba_id,
            phone_number_id,
            {"contacts": [contact], "messages": [message]},
        )
        self.dispatcher.schedule(job, float(payload.get("delay") or 0))
        return _json_response(200, {"wamid": wamid, "scheduled": self._webhook_target_ready()})

    def _control_post_user_preferences(self, query: Any, payload: Any) -> _Response:
        """Post a `user_preferences` webhook: a marketing stop/resume made in WhatsApp."""
        if not isinstance(payload, dict):
            raise ValueError("user_preferences must be a JSON object")
        config = self.config
        wa_id = _digits(payload.get("from") or payload.get("wa_id")) or None
        bsuid = payload.get("bsuid") or None
        if not wa_id and not bsuid:
            raise ValueError("'from' (digits) or 'bsuid' is required")
        value = str(payload.get("value") or "stop").lower()
        contact = self._contact(wa_id, bsuid, payload.get("profile_name"))
        preference: dict[str, Any] = {}
        if wa_id:
            preference["wa_id"] = wa_id
        preference["user_id"] = contact["user_id"]
        preference.update(
            {
                "detail": payload.get("detail") or f"User requested to {value} marketing messages",
                "category": payload.get("category") or "marketing_messages",
                "value": value,
                "timestamp": int(payload.get("timestamp") or time.time()),
            }
        )
        phone_number_id = str(payload.get("phone_number_id") or config.phone_number_id)
        job = Job(
            "user_preferences",
            config.waba_id,
            phone_number_id,
            {"contacts": [contact], "user_preferences": [preference]},
        )
        self.dispatcher.schedule(job, float(payload.get("delay") or 0))
        return _json_response(200, {"scheduled": self._webhook_target_ready()})

    def _control_post_template_status(self, query: Any, payload: Any) -> _Response:
        """Change a template's status and post `message_template_status_update`."""
        if not isinstance(payload, dict) or not payload.get("name"):
            raise ValueError("template_status needs name, language and event")
        event = str(payload.get("event") or payload.get("status") or "APPROVED").upper()
        language = payload.get("language")
        template = self.state.set_template_status(
            payload["name"], language, event, payload.get("reason")
        )
        value = {
            "event": event,
            "message_template_id": int((template or {}).get("id") or payload.get("id") or 0),
            "message_template_name": payload["name"],
            "message_template_language": language or (template or {}).get("language"),
            "reason": payload.get("reason") or "NONE",
        }
        if template and template.get("category"):
            value["message_template_category"] = template["category"]
        job = Job("message_template_status_update", self.config.waba_id, None, value)
        self.dispatcher.schedule(job, float(payload.get("delay") or 0))
        return _json_response(
            200, {"scheduled": self._webhook_target_ready(), "found": template is not None}
        )

    def _template_change(self, payload: Any, what: str) -> dict[str, Any]:
        if not isinstance(payload, dict) or not payload.get("name") or not payload.get(what):
            raise ValueError(f"template_{what} needs name, language and {what}")
        template = self.state.find_template(payload["name"], payload.get("language") or "")
        if template is None:
            raise ValueError(f"no template {payload['name']} [{payload.get('language')}]")
        return template

    def _control_post_template_quality(self, query: Any, payload: Any) -> _Response:
        """Meta re-rates a template: `{name, language, quality}` (GREEN, YELLOW, RED) changes
        its `quality_score` and posts `message_template_quality_update`."""
        template = self._template_change(payload, "quality")
        quality = str(payload["quality"]).upper()
        with self.state.lock:
            previous = (template.get("quality_score") or {}).get("score") or "UNKNOWN"
            template["quality_score"] = {"score": quality, "date": int(time.time())}
        value = {
            "previous_quality_score": previous, "new_quality_score": quality,
            "message_template_id": int(template["id"]),
            "message_template_name": template["name"],
            "message_template_language": template["language"],
        }  # fmt: skip
        job = Job("message_template_quality_update", self.config.waba_id, None, value,
                  time=int(time.time()))  # fmt: skip
        self.dispatcher.schedule(job, float(payload.get("delay") or 0))
        return _json_response(200, {"scheduled": self._webhook_target_ready()})

    def _control_post_template_category(self, query: Any, payload: Any) -> _Response:
        """Meta re-categorises a template: `{name, language, category}` changes it and posts
        `template_category_update`."""
        template = self._template_change(payload, "category")
        category = str(payload["category"]).upper()
        with self.state.lock:
            previous = template.get("category")
            template["category"] = category
        value = {
            "previous_category": previous, "new_category": category,
            "message_template_id": int(template["id"]),
            "message_template_name": template["name"],
            "message_template_language": template["language"],
        }  # fmt: skip
        job = Job("template_category_update", self.config.waba_id, None, value,
                  time=int(time.time()))  # fmt: skip
        self.dispatcher.schedule(job, float(payload.get("delay") or 0))
        return _json_response(200, {"scheduled": self._webhook_target_ready()})

    def _control_get_numbers(self, query: Mapping[str, str], payload: Any) -> _Response:
        phone_number_id = str(query.get("phone_number_id") or self.config.phone_number_id)
        number = self.numbers.get(phone_number_id, self.config)
        return _json_response(200, dataclasses.asdict(number))

    def _control_post_number_event(self, query: Any, payload: Any) -> _Response:
        """Change a number's health (`quality`, `tier`, `status`, `event`, `account_limit`)
        and post the signed webhooks Meta sends for that change (see `numbers`)."""
        if not isinstance(payload, dict):
            raise ValueError("number_event must be a JSON object")
        config = self.config
        phone_number_id = str(payload.get("phone_number_id") or config.phone_number_id)
        number, changes = self.numbers.change(phone_number_id, config, payload)
        now = int(time.time())
        for field, value in changes:
            job = Job(field, config.waba_id, None, value, time=now)
            self.dispatcher.schedule(job, float(payload.get("delay") or 0))
        return _json_response(
            200,
            {
                "number": dataclasses.asdict(number),
                "webhooks": [field for field, _ in changes],
                "scheduled": self._webhook_target_ready() and bool(changes),
            },
        )
