from django.core.management.base import BaseCommand, CommandError

from analytics.models import JobState, JobTrigger
from analytics.ops.jobs import job_get, job_run_now, job_start, jobs_all
from core.errors import DomainError


class Command(BaseCommand):
    help = (
        "Run a registered operations job here (or queue it with --enqueue), recorded in the "
        "job history like a run started from the staff pages. `--list` shows the jobs."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", nargs="?", help="job name, e.g. sync_templates")
        parser.add_argument(
            "--arg",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="a job argument (repeatable), e.g. --arg code=131000 --arg since=2h",
        )
        parser.add_argument("--enqueue", action="store_true", help="queue it for a worker")
        parser.add_argument(
            "--list", dest="list_jobs", action="store_true", help="list the registered jobs"
        )

    def handle(self, *args, name=None, arg, enqueue, list_jobs, **options):
        if list_jobs or not name:
            for definition in jobs_all():
                arguments = ", ".join(a.name for a in definition.arguments) or "no arguments"
                self.stdout.write(f"{definition.name:<24} {definition.title} ({arguments})")
            return
        arguments = {}
        for item in arg:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise CommandError(f"--arg takes KEY=VALUE, not {item!r}")
            arguments[key.strip()] = value
        try:
            job_get(name)
            if enqueue:
                run = job_start(name=name, arguments=arguments, trigger=JobTrigger.COMMAND)
                self.stdout.write(f"queued {name} as run #{run.pk}")
                return
            run = job_run_now(name=name, arguments=arguments, echo=self.stdout.write)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        if run.state != JobState.SUCCEEDED:
            raise CommandError(f"{name} #{run.pk} {run.state}: {run.error}")
        self.stdout.write(self.style.SUCCESS(f"{name} #{run.pk} succeeded: {run.counts}"))
