"""Run the WhatsApp Cloud API simulator in the foreground (Ctrl-C stops it).

Point Parley at it with WHATSAPP_GRAPH_URL=http://127.0.0.1:8001; it posts signed status and
inbound webhooks to --webhook-url (default: the SIMULATOR_WEBHOOK_URL setting). Everything
set here can be changed at runtime through POST /_sim/config.
"""

from __future__ import annotations

import json
import os
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from messaging.providers.simulator import SimulatorServer


def _number_code(value: str) -> tuple[str, int]:
    number, _, code = value.partition(":")
    if not number or not code.isdigit():
        raise CommandError(f"--fail-number expects NUMBER:CODE, got {value!r}")
    return number, int(code)


class Command(BaseCommand):
    help = "Run the WhatsApp Cloud API simulator (a real HTTP server) in the foreground."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument(
            "--port", type=int, default=int(os.environ.get("SIMULATOR_PORT") or 8001)
        )
        parser.add_argument(
            "--webhook-url",
            default=None,
            help="Where to post webhooks (default: SIMULATOR_WEBHOOK_URL).",
        )
        parser.add_argument(
            "--app-secret", default=None, help="Signs webhooks (default: WHATSAPP_APP_SECRET)."
        )
        parser.add_argument(
            "--access-token",
            default=None,
            help="Bearer token required on Graph calls (default: WHATSAPP_API_TOKEN).",
        )
        parser.add_argument(
            "--no-auth", action="store_true", help="Accept any (or no) Bearer token."
        )
        parser.add_argument("--waba-id", default=None)
        parser.add_argument(
            "--phone-number-id", default=None, help="Default sender for inbound webhooks."
        )
        parser.add_argument("--display-phone-number", default=None)
        parser.add_argument(
            "--mps", type=float, default=0.0, help="Messages/second limit; 0 = unlimited."
        )
        parser.add_argument("--no-webhooks", action="store_true")
        parser.add_argument("--sent-delay", type=float, default=None, metavar="SECONDS")
        parser.add_argument("--delivered-delay", type=float, default=None, metavar="SECONDS")
        parser.add_argument("--read-delay", type=float, default=None, metavar="SECONDS")
        parser.add_argument("--read-ratio", type=float, default=None)
        parser.add_argument(
            "--fail-number",
            action="append",
            default=[],
            metavar="NUMBER:CODE",
            help="Fail sends to NUMBER with CODE (e.g. 919800000001:131026). Repeatable.",
        )
        parser.add_argument("--fail-mode", choices=("sync", "async"), default=None)
        parser.add_argument(
            "--outside-window",
            action="append",
            default=[],
            metavar="NUMBER",
            help="Free-form sends to NUMBER fail with 131047. Repeatable.",
        )
        parser.add_argument("--hang-number", action="append", default=[], metavar="NUMBER")
        parser.add_argument("--hang-seconds", type=float, default=None)
        parser.add_argument("--duplicate-statuses", action="store_true")
        parser.add_argument("--reorder-statuses", action="store_true")
        parser.add_argument("--lenient-templates", action="store_true")
        parser.add_argument("--max-batch", type=int, default=None)
        parser.add_argument(
            "--webhook-concurrency",
            type=int,
            default=None,
            help="Webhook POSTs in flight at once (Meta opens many; default 4).",
        )
        parser.add_argument(
            "--template-review-delay",
            type=float,
            default=None,
            metavar="SECONDS",
            help="Seconds before a created or edited template is approved or rejected "
            "(default: SIMULATOR_TEMPLATE_REVIEW_DELAY).",
        )
        parser.add_argument(
            "--template-reject-marker",
            default=None,
            help="A template whose body contains this text is rejected (default: [reject]).",
        )
        parser.add_argument(
            "--config", default=None, help="Extra config as JSON, or @path/to/file.json."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        config = self._config(options)
        try:
            server = SimulatorServer(options["host"], options["port"], config)
        except OSError as exc:
            raise CommandError(
                f"cannot listen on {options['host']}:{options['port']}: {exc}"
            ) from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        effective = server.config
        self.stdout.write(f"WhatsApp simulator on {server.url}")
        self.stdout.write(
            f"  webhooks -> {effective.webhook_url or '(none)'}"
            f"{'' if effective.webhooks else ' (off)'}; "
            f"signed: {'yes' if effective.app_secret else 'NO'}; "
            f"auth: {'Bearer token' if effective.access_token else 'off'}; "
            f"mps: {effective.mps:g}"
        )
        self.stdout.write(
            "  control: GET /_sim/health, /_sim/counts; POST /_sim/config (Ctrl-C stops)"
        )

        def terminate(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, terminate)
        server.serve_forever()
        self.stdout.write("simulator stopped")

    def _config(self, options: dict[str, Any]) -> dict[str, Any]:
        def pick(option: str, setting: str, default: str = "") -> str:
            value = options.get(option)
            return value if value is not None else getattr(settings, setting, default) or default

        config: dict[str, Any] = {
            "webhook_url": pick("webhook_url", "SIMULATOR_WEBHOOK_URL"),
            "app_secret": pick("app_secret", "WHATSAPP_APP_SECRET"),
            "access_token": ""
            if options["no_auth"]
            else pick("access_token", "WHATSAPP_API_TOKEN"),
            "waba_id": pick("waba_id", "WHATSAPP_BUSINESS_ACCOUNT_ID", "100000000000001"),
            "phone_number_id": pick(
                "phone_number_id", "WHATSAPP_PHONE_NUMBER_ID", "200000000000001"
            ),
            "display_phone_number": pick(
                "display_phone_number", "WHATSAPP_DISPLAY_PHONE_NUMBER", "15550001111"
            ),
            "mps": options["mps"],
            "webhooks": not options["no_webhooks"],
            "duplicate_statuses": options["duplicate_statuses"],
            "reorder_statuses": options["reorder_statuses"],
            "strict_templates": not options["lenient_templates"],
            "template_review_delay": (
                options["template_review_delay"]
                if options["template_review_delay"] is not None
                else settings.SIMULATOR_TEMPLATE_REVIEW_DELAY
            ),
        }
        if options["template_reject_marker"] is not None:
            config["template_reject_marker"] = options["template_reject_marker"]
        delays = {
            step: options[f"{step}_delay"]
            for step in ("sent", "delivered", "read")
            if options[f"{step}_delay"] is not None
        }
        if delays:
            config["delays"] = delays
        if options["fail_number"]:
            config["fail_numbers"] = dict(_number_code(v) for v in options["fail_number"])
        for option, key in (
            ("fail_mode", "fail_mode"),
            ("hang_seconds", "hang_seconds"),
            ("read_ratio", "read_ratio"),
            ("max_batch", "max_batch"),
            ("webhook_concurrency", "webhook_concurrency"),
        ):
            if options[option] is not None:
                config[key] = options[option]
        if options["outside_window"]:
            config["outside_window_numbers"] = options["outside_window"]
        if options["hang_number"]:
            config["hang_numbers"] = options["hang_number"]
        if options["config"]:
            config.update(self._load_json(options["config"]))
        return config

    @staticmethod
    def _load_json(value: str) -> dict[str, Any]:
        try:
            if value.startswith("@"):
                with open(value[1:], encoding="utf-8") as handle:
                    data = json.load(handle)
            else:
                data = json.loads(value)
        except (OSError, ValueError) as exc:
            raise CommandError(f"--config: {exc}") from exc
        if not isinstance(data, dict):
            raise CommandError("--config must be a JSON object")
        return data
