"""``manage.py seed_demo``: create the demo colony shop (idempotent); see :mod:`demo.seed`."""

from django.core.management.base import BaseCommand

from demo.seed import DEMO_PASSWORD, PEOPLE, demo_shop_seed


class Command(BaseCommand):
    help = "Create the demo colony shop (idempotent): users, machines, catalogue, stock and tickets."

    def handle(self, *args, **options):
        shop = demo_shop_seed()
        names = ", ".join(name for name, *_ in PEOPLE)
        self.stdout.write(self.style.SUCCESS("Demo shop ready."))
        self.stdout.write(f"People: {names}, admin (password: {DEMO_PASSWORD})")
        self.stdout.write(f"Camera station Station-1 API token: {shop.station_token}")
