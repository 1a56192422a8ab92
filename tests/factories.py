"""Small shop worlds for tests, built through the same services the product uses."""

from dataclasses import dataclass, field
from decimal import Decimal

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from mes.catalog import services as catalog
from mes.catalog.models import MachineType, Part, PartRevision, Program
from mes.core.roles import Role
from mes.production import services as production
from mes.production.models import FeedstockLot, Job, Machine
from mes.repairs import services as repairs
from mes.repairs.models import Module, Sector
from vision.models import Station

BRACKET_SPEC = {
    "outline": {"length": 80.0, "width": 30.0, "corner_radius": 3.0},
    "thickness": 4.0,
    "holes": [
        {"id": "H1", "x": 10.0, "y": 15.0, "diameter": 6.5},
        {"id": "H2", "x": 40.0, "y": 15.0, "diameter": 6.5},
        {"id": "H3", "x": 70.0, "y": 15.0, "diameter": 6.5},
    ],
    "tolerances": {"outline": 0.2, "corner_radius": 0.5, "hole_diameter": 0.1, "hole_position": 0.15},
}

MILL_PROGRAM = """(bracket outline, test program)
G21 G90 G17 G94
M3 S10000
G0 Z5
G0 X-2 Y-2
G1 Z-4.3 F150
G1 X82 F600
G1 Y32
G1 X-2
G1 Y-2
G0 Z5
M5
M30
"""

PRINT_PROGRAM = """; bracket, test program
M140 S60
M104 S210
G28
M190 S60
M109 S210
G21
G90
M82
G92 E0
G1 Z0.3 F600
G1 X60 Y60 F7800
G1 X140 Y60 E4.0 F1800
G1 X140 Y90 E5.5
G1 X60 Y90 E9.5
G1 X60 Y60 E11.0
M104 S0
M140 S0
M84
"""

MILL_ENVELOPE = {"x_min": 0, "x_max": 300, "y_min": 0, "y_max": 200, "z_min": 0, "z_max": 80}
PRINTER_ENVELOPE = {"x_min": 0, "x_max": 250, "y_min": 0, "y_max": 210, "z_min": 0, "z_max": 210}


def make_user(username: str, *roles: Role, superuser: bool = False):
    user = get_user_model().objects.create_user(username=username, password="pw-for-tests-1")
    for role in roles:
        user.groups.add(Group.objects.get_or_create(name=role.value)[0])
    if superuser:
        user.is_superuser = True
        user.save()
    return user


@dataclass
class Shop:
    machinist: object
    engineer: object
    inspector: object
    supervisor: object
    station_user: object
    station: Station
    sector: Sector
    module: Module
    other_module: Module
    mill: Machine
    printer: Machine
    part: Part
    revision: PartRevision
    mill_program: Program
    print_program: Program
    blanks: FeedstockLot
    pla: FeedstockLot
    extra: dict = field(default_factory=dict)

    def user(self, role: Role):
        return {
            Role.MACHINIST: self.machinist,
            Role.ENGINEER: self.engineer,
            Role.INSPECTOR: self.inspector,
            Role.SUPERVISOR: self.supervisor,
            Role.STATION: self.station_user,
        }[role]


def make_shop(*, printer: bool = True, release: bool = True) -> Shop:
    """One mill, one printer, one released bracket with a program for each, blanks and PLA."""
    supervisor = make_user("sam", Role.SUPERVISOR)
    station_user = make_user("station-1", Role.STATION)
    sector = Sector.objects.create(name="Residential A")
    other = Sector.objects.create(name="Hydroponics")
    mill = Machine.objects.create(
        name="Mill-1",
        machine_type=MachineType.CNC_MILL,
        firmware="grbl",
        work_offsets={"G54": [10.0, 10.0, 50.0]},
        **MILL_ENVELOPE,
    )
    printer_machine = Machine.objects.create(
        name="Printer-1",
        machine_type=MachineType.FDM_PRINTER,
        firmware="marlin",
        state="idle" if printer else "maintenance",
        **PRINTER_ENVELOPE,
    )
    part = catalog.part_create(supervisor, number="BRK-080", name="Bracket", kind="bracket")
    revision = catalog.part_revision_create(
        supervisor, part=part, revision="A", spec=BRACKET_SPEC, material="Al 6061 or PLA"
    )
    mill_program = catalog.program_create(
        supervisor,
        revision=revision,
        name="milled",
        machine_type=MachineType.CNC_MILL,
        firmware="grbl",
        material="Al 6061",
        gcode_text=MILL_PROGRAM,
    )
    print_program = catalog.program_create(
        supervisor,
        revision=revision,
        name="printed",
        machine_type=MachineType.FDM_PRINTER,
        firmware="marlin",
        material="PLA",
        gcode_text=PRINT_PROGRAM,
    )
    if release:
        catalog.part_revision_release(supervisor, revision=revision)
        catalog.program_release(supervisor, program=mill_program)
        catalog.program_release(supervisor, program=print_program)
    blanks = production.feedstock_lot_receive(
        supervisor, code="AL-1", material="Al 6061", quantity=Decimal(10), unit="blank"
    )
    pla = production.feedstock_lot_receive(
        supervisor, code="PLA-1", material="PLA", quantity=Decimal(500), unit="g"
    )
    return Shop(
        machinist=make_user("mara", Role.MACHINIST),
        engineer=make_user("eli", Role.ENGINEER),
        inspector=make_user("ines", Role.INSPECTOR),
        supervisor=supervisor,
        station_user=station_user,
        station=Station.objects.create(name="Station-1", user=station_user),
        sector=sector,
        module=Module.objects.create(sector=sector, name="A3"),
        other_module=Module.objects.create(sector=other, name="H2"),
        mill=mill,
        printer=printer_machine,
        part=part,
        revision=PartRevision.objects.get(pk=revision.pk),
        mill_program=Program.objects.get(pk=mill_program.pk),
        print_program=Program.objects.get(pk=print_program.pk),
        blanks=blanks,
        pla=pla,
    )


SNAPSHOT_APPS = ("catalog", "repairs", "production", "inventory", "vision", "core")


def started_mill_job(shop: Shop) -> Job:
    """A critical ticket's bracket started on the shop's mill (the printer set to maintenance so the
    job lands on the mill), as the database now holds it."""
    shop.printer.state = "maintenance"
    shop.printer.save()
    ticket = repairs.ticket_file(
        shop.engineer, sector=shop.sector, module=shop.module, severity="critical", description="x"
    )
    request = repairs.part_request_create(shop.engineer, ticket=ticket, revision=shop.revision, quantity=1)
    job = request.work_orders.get().jobs.get()
    production.job_start(shop.machinist, job=job, lot=shop.blanks)
    return Job.objects.get(pk=job.pk)


def database_snapshot() -> dict:
    """Every row of the shop's tables (history included), for asserting that nothing changed."""
    snapshot = {}
    for app_label in SNAPSHOT_APPS:
        for model in apps.get_app_config(app_label).get_models():
            snapshot[model._meta.label] = list(model.objects.order_by("pk").values())
    return snapshot
