"""The retention app's Celery tasks."""

import logging

from alexandria.core.tasking import Task, task
from alexandria.retention.audit import audit_retention as run_audit

logger = logging.getLogger(__name__)


@task(Task.AUDIT_RETENTION, retry=False)
def audit_retention() -> dict[str, int]:
    """The weekly retention audit, reported in the log: an error when anything is found or
    could not be audited."""
    report = run_audit()
    logger.log(
        logging.INFO if report.clean else logging.ERROR,
        "retention audit\n%s",
        "\n".join(report.lines()),
    )
    return {
        "runs": report.runs,
        "unauditable_sources": len(report.unauditable),
        "errors": len(report.errors),
    }
