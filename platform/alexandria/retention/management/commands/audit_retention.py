from django.core.management.base import BaseCommand, CommandError

from alexandria.retention.audit import audit_retention

# Exit statuses: something stored repeats a purged source; or nothing was found, but some
# source or store could not be audited.
FOUND_RUNS = 1
INCOMPLETE = 2


class Command(BaseCommand):
    help = (
        "Scan every text column of every table and the Chroma collections for runs of "
        "RETENTION_MAX_RUN_WORDS+ consecutive words of a purged source; exit non-zero on any."
    )

    def handle(self, *args, **options):
        report = audit_retention()
        self.stdout.write("\n".join(report.lines()))
        if report.runs:
            raise CommandError(
                f"{report.runs} run(s) of purged sources found", returncode=FOUND_RUNS
            )
        if not report.clean:
            raise CommandError("the audit is incomplete", returncode=INCOMPLETE)
