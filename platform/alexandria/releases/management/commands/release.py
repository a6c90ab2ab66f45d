import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from alexandria.core.errors import AlexandriaError
from alexandria.releases.selectors import Row, Slice
from alexandria.releases.services import write_release

# Exit status when the release is refused (no previous release to diff from) or not clean.
REFUSED = 2


def console_progress(rows: Iterable[Row], total: int, label: str) -> Iterator[Row]:
    """tqdm's bar on stderr when it is installed, else a counter every 10,000 rows."""
    try:
        from tqdm import tqdm  # optional: not a dependency of the server
    except ImportError:
        count = 0
        for count, row in enumerate(rows, start=1):
            if count % 10_000 == 0:
                sys.stderr.write(f"  {label}: {count:,}/{total:,}\n")
            yield row
        sys.stderr.write(f"  {label}: {count:,} rows\n")
        return
    yield from tqdm(rows, total=total or None, desc=label, unit=" rows", file=sys.stderr)


class Command(BaseCommand):
    help = (
        "Write a dataset release (Parquet, Hugging Face layout, card, manifest, deletions) of "
        "the accepted knowledge, or of one genre, language or source domain."
    )

    def add_arguments(self, parser):
        parser.add_argument("--diff", action="store_true", help="Only what changed since the "
                            "previous release of the same slice.")  # fmt: skip
        parser.add_argument("--genre", default="", help="Only items grounded in this genre.")
        parser.add_argument("--language", default="", help="Only sources in this language.")
        parser.add_argument("--domain", default="", help="Only sources from this domain.")
        parser.add_argument("--out", default="", help="Folder (default: RELEASES_ROOT).")
        parser.add_argument(
            "--include-pending",
            action="store_true",
            help="Also items nobody reviewed yet (labelled so in the card); for the demo.",
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options):
        slice_ = Slice(
            genre=options["genre"].strip(),
            language=options["language"].strip(),
            domain=options["domain"].strip().lower(),
            include_pending=options["include_pending"],
        )
        try:
            release = write_release(
                slice_,
                diff=options["diff"],
                out=Path(options["out"]) if options["out"] else None,
                **({} if options["no_progress"] else {"progress": console_progress}),
            )
        except AlexandriaError as exc:
            raise CommandError(str(exc), returncode=REFUSED) from exc
        counts = ", ".join(
            f"{name} {c['rows']:,} (+{c['added']:,} ~{c['updated']:,} -{c['deleted']:,})"
            for name, c in release.counts.items()
        )
        self.stdout.write(f"Release {release.release_id} ({release.kind}): {counts}")
        self.stdout.write(f"Written to {release.path}")
