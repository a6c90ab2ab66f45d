from django.core.management.base import BaseCommand
from tqdm import tqdm

from alexandria.figures.services.indexing import rebuild_figure_index
from alexandria.search.services.indexing import REBUILD_BATCH, rebuild_index


class Command(BaseCommand):
    help = (
        "Rebuild every vector index collection, items' and figures', from the database (the "
        "source of truth)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=REBUILD_BATCH)
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, batch_size: int, no_progress: bool, **options):
        with tqdm(
            unit="item", desc="rebuild_index", disable=no_progress, file=self.stderr._out
        ) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            report = rebuild_index(batch_size=batch_size, progress=progress)
        for layer, count in report.layers.items():
            self.stdout.write(f"layer {layer}: {count} items")
        figures = rebuild_figure_index(batch_size=batch_size)
        self.stdout.write(self.style.SUCCESS(f"Indexed {report.total} items, {figures} figures."))
