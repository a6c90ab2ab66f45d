from django.core.management.base import BaseCommand

from alexandria.search.services.indexing import REBUILD_BATCH, rebuild_index


class Command(BaseCommand):
    help = "Rebuild every vector index collection from the database (the source of truth)."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=REBUILD_BATCH)

    def handle(self, *args, batch_size: int, **options):
        report = rebuild_index(batch_size=batch_size)
        for layer, count in report.layers.items():
            self.stdout.write(f"layer {layer}: {count} items")
        self.stdout.write(self.style.SUCCESS(f"Indexed {report.total} items."))
