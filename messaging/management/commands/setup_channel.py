from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from messaging.channels.models import Channel, Provider


class Command(BaseCommand):
    help = "Create or update the Meta channel from the WHATSAPP_* settings."

    def add_arguments(self, parser):
        parser.add_argument("--name", default="Main number")
        parser.add_argument("--throughput", type=int, default=None, help="messages per second")
        parser.add_argument("--base-url", default=None, help="Graph API base URL override")

    def handle(self, *args, name, throughput, base_url, **options):
        phone_number_id = settings.WHATSAPP_PHONE_NUMBER_ID
        if not phone_number_id:
            raise CommandError("WHATSAPP_PHONE_NUMBER_ID is not set")
        defaults = {
            "name": name,
            "provider": Provider.META_CLOUD,
            "waba_id": settings.WHATSAPP_BUSINESS_ACCOUNT_ID,
            "display_phone_number": settings.WHATSAPP_DISPLAY_PHONE_NUMBER,
            "token_setting": "WHATSAPP_API_TOKEN",
            "app_secret_setting": "WHATSAPP_APP_SECRET",
            "is_active": True,
        }
        if throughput:
            defaults["throughput_mps"] = throughput
        if base_url is not None:
            defaults["base_url"] = base_url
        channel, created = Channel.objects.update_or_create(
            phone_number_id=phone_number_id, defaults=defaults
        )
        missing = [
            n for n in ("WHATSAPP_API_TOKEN", "WHATSAPP_APP_SECRET") if not channel.secret(n)
        ]
        self.stdout.write(
            f"{'Created' if created else 'Updated'} channel {channel}"
            + (f" (missing settings: {', '.join(missing)})" if missing else "")
        )
