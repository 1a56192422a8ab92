"""The demo shop's seed data: the colony's machine shop as a newcomer (or a test) first sees it.

:func:`demo_shop_seed` (``manage.py seed_demo``) is idempotent: every record is looked up by its natural
key first, and the workflow part (stock, tickets, requests) is created through the services only once.
The seed goes through each app's services like a user would, so it is the one place that knows every app.
"""

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from demo.calibration import demo_station_calibrate
from demo.catalogue import DEMO_DESIGNS, DemoDesign
from machines import cam
from mes.catalog import services as catalog
from mes.catalog.models import MachineType, Part, PartRevision
from mes.core.roles import Role
from mes.inventory import services as inventory
from mes.inventory.models import Location, StockItem
from mes.production import services as production
from mes.production.models import FeedstockLot, Machine
from mes.repairs import services as repairs
from mes.repairs.models import DamageTicket, Module, Sector
from vision.models import Station

DEMO_PASSWORD = "colony-demo"
#: G-code a real slicer produced for some designs (see SLICED).
PROGRAM_DIR = Path(__file__).resolve().parent / "programs"

SECTORS = {
    "Residential A": ["A1", "A2", "A3", "A4"],
    "Residential B": ["B1", "B2", "B3"],
    "Hydroponics": ["H1", "H2"],
    "Life support": ["LS1", "LS2"],
}

PEOPLE = [
    ("mara", "Mara", "Okafor", [Role.MACHINIST]),
    ("tomas", "Tomas", "Reyes", [Role.MACHINIST]),
    ("eli", "Eli", "Nakamura", [Role.ENGINEER]),
    ("ines", "Ines", "Varga", [Role.INSPECTOR]),
    ("sam", "Sam", "Adeyemi", [Role.SUPERVISOR]),
]

LOCATIONS = [("RACK-A", "Repair stock rack A"), ("QC", "Inspection bench"), ("MRB", "Quarantine")]

# Mills: positive machine space from the homed corner (GRBL with HOMING_FORCE_SET_ORIGIN); the
# machinist zeroes G54 on the top surface of the stock.
MILL_ENVELOPE = {"x_min": 0, "x_max": 300, "y_min": 0, "y_max": 200, "z_min": 0, "z_max": 80}
MILL_OFFSETS = {"G54": [10.0, 10.0, 50.0]}
PRINTER_ENVELOPE = {"x_min": 0, "x_max": 250, "y_min": 0, "y_max": 210, "z_min": 0, "z_max": 210}

MACHINES = [
    ("Mill-1", MachineType.CNC_MILL, "grbl", MILL_ENVELOPE, "socket://127.0.0.1:7101"),
    ("Mill-2", MachineType.CNC_MILL, "grbl", MILL_ENVELOPE, "socket://127.0.0.1:7102"),
    ("Printer-1", MachineType.FDM_PRINTER, "marlin", PRINTER_ENVELOPE, "socket://127.0.0.1:7201"),
    ("Printer-2", MachineType.FDM_PRINTER, "marlin", PRINTER_ENVELOPE, "socket://127.0.0.1:7202"),
]

LOTS = [
    ("PLA-2611-01", "PLA", "g", 1000, "Colony polymer plant"),
    ("PETG-2611-01", "PETG", "g", 2000, "Colony polymer plant"),
    ("AL6061-2611-01", "Al 6061", "blank", 40, "Regolith smelter, plate line"),
]

# Programs a real slicer produced for two of the designs (see shared samples); the rest come from cam.
SLICED = {"BRK-080": ("bracket-80x30x4-pla.gcode", "PLA"), "STR-200": ("strip-200x20x3-petg.gcode", "PETG")}


@dataclass
class DemoShop:
    users: dict
    station_token: str
    machines: list


def _user(username: str, first: str, last: str, roles, *, superuser: bool = False):
    User = get_user_model()
    user, created = User.objects.get_or_create(
        username=username, defaults={"first_name": first, "last_name": last}
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.is_staff = superuser or Role.SUPERVISOR in roles
        user.is_superuser = superuser
        user.save()
    user.groups.add(*[Group.objects.get(name=role.value) for role in roles])
    return user


def _people() -> dict:
    for role in Role:
        Group.objects.get_or_create(name=role.value)
    users = {name: _user(name, first, last, roles) for name, first, last, roles in PEOPLE}
    users["admin"] = _user("admin", "Shop", "Admin", [], superuser=True)
    return users


def _station() -> str:
    User = get_user_model()
    user, created = User.objects.get_or_create(username="station-1")
    if created:
        user.set_unusable_password()
        user.save()
    user.groups.add(Group.objects.get(name=Role.STATION.value))
    Station.objects.get_or_create(name="Station-1", defaults={"user": user, "location": "QC bench"})
    return Token.objects.get_or_create(user=user)[0].key


def _places() -> None:
    for sector_name, modules in SECTORS.items():
        sector, _ = Sector.objects.get_or_create(name=sector_name)
        for module in modules:
            Module.objects.get_or_create(sector=sector, name=module)
    for code, name in LOCATIONS:
        Location.objects.get_or_create(code=code, defaults={"name": name})


def _machines() -> list[Machine]:
    machines = []
    for name, kind, firmware, envelope, port in MACHINES:
        offsets = MILL_OFFSETS if kind == MachineType.CNC_MILL else {}
        machine, _ = Machine.objects.get_or_create(
            name=name,
            defaults={
                "machine_type": kind,
                "firmware": firmware,
                "port_url": port,
                "work_offsets": offsets,
                **envelope,
            },
        )
        machines.append(machine)
    return machines


def _lots(supervisor) -> None:
    for code, material, unit, quantity, supplier in LOTS:
        if not FeedstockLot.objects.filter(code=code).exists():
            production.feedstock_lot_receive(
                supervisor,
                code=code,
                material=material,
                quantity=quantity,
                unit=unit,
                supplier=supplier,
            )


def _programs_for(design: DemoDesign) -> list[tuple[str, str, str, str, str]]:
    """(name, machine type, firmware, material, G-code) for each way the shop can make a design."""
    programs = [
        (
            f"{design.part_number} milled",
            MachineType.CNC_MILL,
            "grbl",
            "Al 6061",
            cam.mill_plate_program(design.plate),
        )
    ]
    if MachineType.FDM_PRINTER in design.machine_types:
        if design.part_number in SLICED:
            filename, material = SLICED[design.part_number]
            text = (PROGRAM_DIR / filename).read_text()
        else:
            material, text = "PETG", cam.print_plate_program(design.plate)
        programs.append(
            (
                f"{design.part_number} printed {material}",
                MachineType.FDM_PRINTER,
                "marlin",
                material,
                text,
            )
        )
    return programs


def _catalogue(supervisor) -> None:
    for design in DEMO_DESIGNS:
        part = Part.objects.filter(number=design.part_number).first() or catalog.part_create(
            supervisor, number=design.part_number, name=design.name, kind=design.kind
        )
        revision = part.revisions.filter(revision=design.revision).first()
        if revision is None:
            revision = catalog.part_revision_create(
                supervisor,
                part=part,
                revision=design.revision,
                spec=design.spec,
                material=design.material_hint,
            )
            catalog.part_revision_release(supervisor, revision=revision)
        if revision.programs.exists():
            continue
        for name, kind, firmware, material, text in _programs_for(design):
            program = catalog.program_create(
                supervisor,
                revision=revision,
                name=name,
                machine_type=kind,
                firmware=firmware,
                material=material,
                gcode_text=text,
            )
            catalog.program_release(supervisor, program=program)


def _revision(number: str) -> PartRevision:
    return PartRevision.objects.get(part__number=number, revision="A")


def _workflow(users) -> None:
    """Stock on the shelf and a few open tickets, created once."""
    if StockItem.objects.exists() or DamageTicket.objects.exists():
        return
    rack = Location.objects.get(code="RACK-A")
    sam, eli = users["sam"], users["eli"]
    inventory.stock_item_receive(sam, revision=_revision("BRK-080"), quantity=2, location=rack)
    inventory.stock_item_receive(sam, revision=_revision("STR-200"), quantity=4, location=rack)
    now = timezone.now()
    tickets = [
        (
            "Residential A",
            "A3",
            "life_safety",
            "Micrometeorite breach in A3 corridor wall: pressure door frame cracked, needs brackets.",
            [("BRK-080", 3, now + timedelta(hours=4))],
        ),
        (
            "Hydroponics",
            "H2",
            "critical",
            "Grow-rack support strip sheared; rack leaning on the irrigation line.",
            [("STR-200", 2, now + timedelta(days=1))],
        ),
        (
            "Residential B",
            "B1",
            "routine",
            "Cabin shelf mounting plate loose, replace at next maintenance window.",
            [("BRK-050", 1, None)],
        ),
    ]
    for sector, module, severity, text, requests in tickets:
        sector_obj = Sector.objects.get(name=sector)
        ticket = repairs.ticket_file(
            eli,
            sector=sector_obj,
            module=Module.objects.get(sector=sector_obj, name=module),
            severity=severity,
            description=text,
        )
        for number, quantity, needed_by in requests:
            repairs.part_request_create(
                eli, ticket=ticket, revision=_revision(number), quantity=quantity, needed_by=needed_by
            )


@transaction.atomic
def demo_shop_seed() -> DemoShop:
    """Create (or find) the demo shop and return its users, station token and machines."""
    users = _people()
    token = _station()
    demo_station_calibrate(users["sam"])
    _places()
    machines = _machines()
    _lots(users["sam"])
    _catalogue(users["sam"])
    _workflow(users)
    return DemoShop(users=users, station_token=token, machines=machines)
