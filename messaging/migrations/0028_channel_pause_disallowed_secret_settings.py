"""Flag channels stored before the secret-setting rule: each one that names a setting outside
CHANNEL_SECRET_SETTING_PATTERNS is paused with the reason, so it shows in the admin's channel
list and the operations centre, and sends nothing until an Admin fixes the name and resumes it.
(Reading such a name already gives no secret, see `Channel.secret`.)"""

from django.db import migrations

FIELDS = ("token_setting", "app_secret_setting", "company_id_setting")


def pause_disallowed(apps, schema_editor):
    from messaging.channels.secrets import secret_setting_problem

    Channel = apps.get_model("messaging", "Channel")
    for channel in Channel.objects.only("pk", "paused_reason", *FIELDS).iterator():
        bad = [
            f"{field}: {problem}"
            for field in FIELDS
            if getattr(channel, field) and (problem := secret_setting_problem(getattr(channel, field)))
        ]
        if bad:
            reason = "Secret setting not allowed, fix it and resume: " + "; ".join(bad)
            Channel.objects.filter(pk=channel.pk).update(paused_reason=reason[:300])


class Migration(migrations.Migration):
    dependencies = [("messaging", "0027_channel_secret_setting_validators")]

    operations = [migrations.RunPython(pause_disallowed, migrations.RunPython.noop)]
