"""Reads of production state: machine queues, loads and work-order progress."""

import hashlib
import threading
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cached_property

from django.conf import settings
from django.db.models import Count, F, Q, QuerySet, Sum, Window
from django.db.models.functions import Lower, RowNumber, Trim
from django.utils import timezone

from machines import gcode, maintenance
from machines import selectors as machine_selectors
from machines.models import OVERRIDE_CHANGES
from machines.protocol.registry import engine_class, firmware_named, profile_for
from mes.catalog.models import MachineType, Program
from mes.core import selectors as core_selectors
from mes.core.queues import machine_queue as machine_queue_name
from mes.inventory.models import StockItem, StockStatus
from mes.production.models import (
    ACTIVE_JOB_STATES,
    FeedstockLot,
    Job,
    JobState,
    Machine,
    MachineState,
    WorkOrder,
)
from mes.repairs.models import SEVERITY_RANK, Severity

QUEUE_ORDER = ("severity_rank", F("needed_by").asc(nulls_last=True), "queued_at", "pk")
OPEN_JOB_STATES = (JobState.QUEUED, JobState.RUNNING, JobState.PAUSED)
# Jobs whose parts are still to come into stock (a completed run's part is on the bed).
PARTS_PENDING_JOB_STATES = (*OPEN_JOB_STATES, JobState.COMPLETED)


def machine_queue(machine: Machine) -> QuerySet[Job]:
    """Jobs waiting for ``machine``: life-safety first, then the earliest needed-by, then the oldest."""
    return Job.objects.filter(machine=machine, state=JobState.QUEUED).order_by(*QUEUE_ORDER)


def machines_in_service(machine_type: str, firmware: str) -> QuerySet[Machine]:
    """Machines of a type and firmware that can take work, with their queued load in seconds."""
    return (
        Machine.objects.filter(machine_type=machine_type, firmware=firmware)
        .exclude(state__in=[MachineState.MAINTENANCE, MachineState.OFFLINE])
        .annotate(
            load_seconds=Sum("jobs__program__estimated_seconds", filter=Q(jobs__state__in=OPEN_JOB_STATES))
        )
        .order_by("name")
    )


def machine_profile(machine: Machine) -> gcode.MachineProfile:
    """The validation profile of ``machine``: its envelope, firmware rules and work offsets."""
    envelope = gcode.Envelope(
        machine.x_min, machine.x_max, machine.y_min, machine.y_max, machine.z_min, machine.z_max
    )
    overrides: dict = {"production": True}
    offsets = {name: tuple(value) for name, value in (machine.work_offsets or {}).items()}
    if offsets:
        overrides["work_offsets"] = offsets
    if machine.max_feed_mm_min:
        overrides["max_feed_mm_min"] = machine.max_feed_mm_min
    if machine.max_spindle_rpm:
        overrides["max_spindle_rpm"] = machine.max_spindle_rpm
    return profile_for(machine.firmware, envelope, **overrides)


def _firmware_label(firmware: str) -> str:
    return firmware_named(firmware).label


# Dispatch and start ask the same question of a program and a machine, and the answer depends only on the
# program's text and the machine's profile: the last answers are kept (a 15,000-line program takes about
# 0.3 s to check, and dispatch asks once per capable machine).
_RUNNABILITY_CACHE_SIZE = 256
_runnability: OrderedDict[tuple, tuple[str, ...]] = OrderedDict()
_runnability_lock = threading.Lock()


def _profile_key(machine: Machine) -> tuple:
    """Everything :func:`machine_profile` reads from the machine record."""
    offsets = tuple(sorted((name, tuple(value)) for name, value in (machine.work_offsets or {}).items()))
    envelope = (machine.x_min, machine.x_max, machine.y_min, machine.y_max, machine.z_min, machine.z_max)
    return (machine.firmware, envelope, offsets, machine.max_feed_mm_min, machine.max_spindle_rpm)


def program_errors_on_machine(program, machine: Machine) -> tuple[str, ...]:
    """Why ``program`` cannot run on ``machine`` as it is set up now, at most three reasons (each with its
    line), or ``()`` if it can.

    This is the start interlock's own check (the whole program against the machine's profile: envelope
    through its current work offsets, arcs, allow-list, forbidden commands, line length), so dispatch never
    queues a job that every start would refuse.
    """
    key = (program.sha256, _profile_key(machine))
    with _runnability_lock:
        if key in _runnability:
            _runnability.move_to_end(key)
            return _runnability[key]
    report = gcode.check_program(program.gcode, machine_profile(machine))[1]
    errors = tuple(str(issue) for issue in report.errors[:3])
    with _runnability_lock:
        _runnability[key] = errors
        while len(_runnability) > _RUNNABILITY_CACHE_SIZE:
            _runnability.popitem(last=False)
    return errors


def machines_with_live_runner(machine_ids: list[int], *, alive_s: float) -> set[int]:
    """Those of ``machine_ids`` whose active run has a runner that reported within ``alive_s`` seconds:
    the only machines a software stop can reach (a runner holds the controller's port only during a run)."""
    cutoff = timezone.now() - timedelta(seconds=alive_s)
    live = Job.objects.filter(
        machine_id__in=machine_ids, state__in=ACTIVE_JOB_STATES, runner_heartbeat_at__gte=cutoff
    ).exclude(runner="")
    # A worker unlocking or homing the controller holds the port too, and hears the E-STOP.
    maintaining = machine_selectors.machines_in_maintenance_session(
        machine_ids, within_s=maintenance.SESSION_LIMIT_S
    )
    return set(live.values_list("machine_id", flat=True)) | maintaining


def work_order_parts_covered(work_order: WorkOrder) -> int:
    """Parts made and still good, plus parts in jobs that are queued or running, for a work order."""
    good = (
        StockItem.objects.filter(job__work_order=work_order)
        .exclude(status__in=[StockStatus.REJECTED, StockStatus.SCRAPPED])
        .count()
    )
    pending_jobs = Job.objects.filter(work_order=work_order, state__in=PARTS_PENDING_JOB_STATES)
    pending = pending_jobs.aggregate(n=Sum("quantity"))["n"] or 0
    return good + pending


def work_order_good_parts(work_order: WorkOrder) -> int:
    return (
        StockItem.objects.filter(job__work_order=work_order)
        .exclude(status__in=[StockStatus.REJECTED, StockStatus.SCRAPPED])
        .count()
    )


# --- the shop terminal --------------------------------------------------------------------------------
# The terminal reads whole boards in a fixed number of queries (see :func:`terminal_board`) as flat rows
# (``values()``: a board of 50 machines would otherwise build some 1,500 model instances a second), and
# hands templates plain data, so no template can trigger a lazy query per machine.
TERMINAL_QUEUE_DEPTH = 3
LIFE_SAFETY_RANK = SEVERITY_RANK[Severity.LIFE_SAFETY]
# Jobs shown as a machine's current job: the one occupying it, else an interrupted one awaiting a machinist.
TERMINAL_CURRENT_JOB_STATES = (JobState.RUNNING, JobState.PAUSED, JobState.COMPLETED, JobState.INTERRUPTED)
TELEMETRY_STALE_AFTER_S = 5
_JOB_FIELDS = (
    "pk",
    "machine_id",
    "state",
    "quantity",
    "needed_by",
    "queued_at",
    "started_at",
    "progress",
    "lines_acknowledged",
    "lines_total",
    "outcome",
    "program__name",
    "program__sha256",
    "program__estimated_seconds",
    "work_order__revision__revision",
    "work_order__revision__part__number",
    "work_order__part_request__ticket_id",
    "work_order__part_request__ticket__severity",
)
_MACHINE_FIELDS = (
    "pk",
    "name",
    "port_url",
    "machine_type",
    "firmware",
    "state",
    "state_reason",
    "loaded_lot_id",
    "loaded_lot__code",
    "loaded_lot__material",
    "loaded_lot__unit",
    "loaded_lot__quantity_on_hand",
    "telemetry__pk",
    "telemetry__firmware_state",
    "telemetry__position",
    "telemetry__temperatures",
    "telemetry__message",
    "telemetry__feed_override",
    "telemetry__rapid_override",
    "telemetry__spindle_override",
    "telemetry__updated_at",
)


@dataclass(frozen=True)
class JobCard:
    """What the terminal shows of one job."""

    pk: int
    label: str  # "J-00042", as str(job) says
    state: str
    state_label: str
    part: str  # "BRK-080@A"
    program_name: str
    program_sha256: str
    quantity: int
    severity: str  # the ticket's severity value, e.g. "life_safety"
    severity_label: str
    ticket: str
    needed_by: datetime | None
    queued_at: datetime
    progress: float  # 0..1
    lines_acknowledged: int
    lines_total: int
    seconds_left: float | None
    outcome: str

    @property
    def life_safety(self) -> bool:
        return self.severity == Severity.LIFE_SAFETY

    @property
    def percent(self) -> int:
        return round(self.progress * 100)


@dataclass(frozen=True)
class LotCard:
    pk: int
    code: str
    material: str
    unit: str
    quantity_on_hand: Decimal


@dataclass(frozen=True)
class TelemetryCard:
    firmware_state: str
    position: str  # "X 12.000 Y 4.500 Z -1.000" (GRBL), empty when not reported
    temperatures: str  # "Hotend 205/210 °C · Bed 60/60 °C" (Marlin), empty when not reported
    message: str
    overrides: str  # "Feed 110 % · Rapid 50 % · Spindle 100 %", empty when the controller reports none
    updated_at: datetime
    age_seconds: float  # when read; not part of a tile's version (the page shows updated_at instead)
    stale: bool


@dataclass(frozen=True)
class MachineTile:
    """One machine on the terminal: its state, current job, next jobs, lot and telemetry."""

    pk: int
    name: str
    machine_type: str
    machine_type_label: str
    firmware_label: str
    state: str
    state_label: str
    state_reason: str
    current: JobCard | None
    queue: tuple[JobCard, ...]  # the next few, in priority order
    queue_length: int
    lot: LotCard | None
    telemetry: TelemetryCard | None
    #: On a cable, but no live worker holds its queue: nothing the MES sends can reach it.
    unreachable: bool = False
    #: Has a serial port in the MES (a machine without one is run from its own panel).
    on_cable: bool = False
    #: What the machine's engine can send: maintenance commands ("unlock", "home") and override kinds.
    maintenance: tuple[str, ...] = ()
    override_kinds: tuple[str, ...] = ()

    @property
    def next_job(self) -> JobCard | None:
        return self.queue[0] if self.queue else None

    @property
    def can_start_next(self) -> bool:
        return self.state == MachineState.IDLE and self.current is None and bool(self.queue)

    @property
    def can_pause(self) -> bool:
        return self.current is not None and self.current.state == JobState.RUNNING

    @property
    def can_resume(self) -> bool:
        return self.current is not None and self.current.state == JobState.PAUSED

    @property
    def can_cancel(self) -> bool:
        return self.current is not None and self.current.state in ACTIVE_JOB_STATES

    @property
    def can_confirm_removal(self) -> bool:
        return self.current is not None and self.current.state == JobState.COMPLETED

    @property
    def can_clear_error(self) -> bool:
        interrupted = self.current is not None and self.current.state == JobState.INTERRUPTED
        return self.state == MachineState.ERROR or interrupted

    def _may_maintain(self, kind: str) -> bool:
        no_job = self.current is None or self.current.state not in ACTIVE_JOB_STATES
        idle_or_error = self.state in (MachineState.IDLE, MachineState.ERROR)
        return kind in self.maintenance and self.on_cable and idle_or_error and no_job

    @property
    def can_unlock(self) -> bool:
        return self._may_maintain("unlock")

    @property
    def can_home(self) -> bool:
        return self._may_maintain("home")

    @property
    def can_override(self) -> bool:
        running = self.current is not None and self.current.state in ACTIVE_JOB_STATES
        return bool(self.override_kinds) and self.on_cable and running

    @property
    def override_buttons(self) -> tuple[tuple[str, str, str], ...]:
        """(kind, change, label) of each override button the machine's engine takes, e.g.
        ("feed", "+10", "Feed +10 %"), ("feed", "reset", "Feed 100 %"), ("rapid", "50", "Rapid 50 %")."""
        buttons = []
        for kind, changes in OVERRIDE_CHANGES.items():
            if kind in self.override_kinds:
                for change in changes:
                    shown = "100" if change == "reset" else change
                    buttons.append((kind, change, f"{kind.capitalize()} {shown} %"))
        return tuple(buttons)

    @cached_property
    def version(self) -> str:
        """A stable digest of what the tile shows: the live fragment re-sends a tile only when the page
        holds another version (telemetry's age is left out: it moves every second, the page does not
        show it). Computed once per tile: a request asks for it two or three times per tile (the poll's
        comparison, the cache key, the fragment), and the tile never changes."""
        shown = self
        if self.telemetry is not None:
            shown = replace(self, telemetry=replace(self.telemetry, age_seconds=0.0))
        return hashlib.blake2b(repr(shown).encode(), digest_size=8).hexdigest()


@dataclass(frozen=True)
class TerminalBoard:
    tiles: tuple[MachineTile, ...]
    life_safety_machines: tuple[str, ...]  # names of machines with a life-safety job queued

    @property
    def machine_ids(self) -> tuple[int, ...]:
        return tuple(tile.pk for tile in self.tiles)

    @property
    def machines_in_error(self) -> int:
        return sum(tile.state == MachineState.ERROR for tile in self.tiles)


def _seconds_left(row: dict, now: datetime) -> float | None:
    """Time left from the program's estimate, else extrapolated from the lines acknowledged so far."""
    if row["state"] not in ACTIVE_JOB_STATES:
        return None
    if row["program__estimated_seconds"]:
        return row["program__estimated_seconds"] * (1 - min(max(row["progress"], 0.0), 1.0))
    done, total = row["lines_acknowledged"], row["lines_total"]
    if done and total and row["started_at"]:
        return (now - row["started_at"]).total_seconds() * (total - done) / done
    return None


def _job_card(row: dict, now: datetime) -> JobCard:
    severity = row["work_order__part_request__ticket__severity"]
    return JobCard(
        pk=row["pk"],
        label=f"J-{row['pk']:05d}",
        state=row["state"],
        state_label=JobState(row["state"]).label,
        part=f"{row['work_order__revision__part__number']}@{row['work_order__revision__revision']}",
        program_name=row["program__name"],
        program_sha256=row["program__sha256"],
        quantity=row["quantity"],
        severity=severity,
        severity_label=Severity(severity).label,
        ticket=f"Ticket DT-{row['work_order__part_request__ticket_id']:05d}",
        needed_by=row["needed_by"],
        queued_at=row["queued_at"],
        progress=min(max(row["progress"] or 0.0, 0.0), 1.0),
        lines_acknowledged=row["lines_acknowledged"],
        lines_total=row["lines_total"],
        seconds_left=_seconds_left(row, now),
        outcome=row["outcome"],
    )


def job_card(job_id: int) -> JobCard:
    """One job as the terminal shows it (one query)."""
    return _job_card(Job.objects.values(*_JOB_FIELDS).get(pk=job_id), timezone.now())


def _position_text(position) -> str:
    if not position:
        return ""
    return " ".join(f"{axis} {float(value):.3f}" for axis, value in zip("XYZABC", position, strict=False))


HEATER_NAMES = {"T": "Hotend", "T0": "Hotend", "T1": "Hotend 2", "B": "Bed", "C": "Chamber"}


_HEATER_ORDER = {"T": 0, "B": 1, "C": 2}


def _temperatures_text(temperatures) -> str:
    if not temperatures:
        return ""
    parts = []
    # Hotends first, then bed and chamber: a fixed order whatever order the database keeps JSON keys in.
    heaters = sorted(temperatures.items(), key=lambda item: (_HEATER_ORDER.get(item[0][:1], 9), item[0]))
    for key, reading in heaters:
        actual, target = [*reading, None][:2]
        target_text = f"/{float(target):.0f}" if target is not None else ""
        parts.append(f"{HEATER_NAMES.get(key, key)} {float(actual):.0f}{target_text} °C")
    return " · ".join(parts)


def _overrides_text(row: dict) -> str:
    values = [(name, row[f"telemetry__{name.lower()}_override"]) for name in ("Feed", "Rapid", "Spindle")]
    return " · ".join(f"{name} {value} %" for name, value in values if value is not None)


def _engine_offers(firmware: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(maintenance commands, override kinds) the firmware's engine offers, in a stable order."""
    try:
        engine = engine_class(firmware)
    except ValueError:  # a firmware no longer installed offers nothing
        return (), ()
    return tuple(sorted(engine.maintenance_commands)), tuple(sorted(engine.override_kinds))


def _telemetry_card(row: dict, now: datetime) -> TelemetryCard | None:
    if row["telemetry__pk"] is None:
        return None
    age = max((now - row["telemetry__updated_at"]).total_seconds(), 0.0)
    return TelemetryCard(
        firmware_state=row["telemetry__firmware_state"],
        position=_position_text(row["telemetry__position"]),
        temperatures=_temperatures_text(row["telemetry__temperatures"]),
        message=row["telemetry__message"],
        overrides=_overrides_text(row),
        updated_at=row["telemetry__updated_at"],
        age_seconds=age,
        stale=age > TELEMETRY_STALE_AFTER_S,
    )


def _lot_card(row: dict) -> LotCard | None:
    if row["loaded_lot_id"] is None:
        return None
    return LotCard(
        pk=row["loaded_lot_id"],
        code=row["loaded_lot__code"],
        material=row["loaded_lot__material"],
        unit=row["loaded_lot__unit"],
        quantity_on_hand=row["loaded_lot__quantity_on_hand"],
    )


def life_safety_queued_machines() -> tuple[str, ...]:
    """Names of machines with at least one life-safety job queued (one query)."""
    names = (
        Job.objects.filter(state=JobState.QUEUED, severity_rank=LIFE_SAFETY_RANK)
        .values_list("machine__name", flat=True)
        .distinct()
        .order_by("machine__name")
    )
    return tuple(names)


def _current_jobs(machine_ids: list[int] | None) -> dict[int, dict]:
    """Each machine's current job row: the one occupying it, else its latest interrupted one."""
    jobs = Job.objects.filter(state__in=TERMINAL_CURRENT_JOB_STATES)
    if machine_ids is not None:
        jobs = jobs.filter(machine_id__in=machine_ids)
    current: dict[int, dict] = {}
    for row in jobs.order_by("machine_id", "-status_changed_at", "-pk").values(*_JOB_FIELDS):
        held = current.get(row["machine_id"])
        if held is None or (held["state"] == JobState.INTERRUPTED and row["state"] != JobState.INTERRUPTED):
            current[row["machine_id"]] = row
    return current


def _queue_heads(machine_ids: list[int] | None, depth: int) -> dict[int, list[dict]]:
    """The first ``depth`` queued job rows of each machine, in priority order, each with the length of
    its machine's whole queue (``queue_length``): one query, by window functions."""
    jobs = Job.objects.filter(state=JobState.QUEUED)
    if machine_ids is not None:
        jobs = jobs.filter(machine_id__in=machine_ids)
    priority = [
        F("severity_rank").asc(),
        F("needed_by").asc(nulls_last=True),
        F("queued_at").asc(),
        F("pk").asc(),
    ]
    rows = (
        jobs.annotate(
            queue_place=Window(RowNumber(), partition_by=[F("machine_id")], order_by=priority),
            queue_length=Window(Count("pk"), partition_by=[F("machine_id")]),
        )
        .filter(queue_place__lte=depth)
        .order_by("machine_id", "queue_place")
        .values(*_JOB_FIELDS, "queue_length")
    )
    heads: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        heads[row["machine_id"]].append(row)
    return heads


def terminal_board(
    *, machine_ids: list[int] | None = None, queue_depth: int = TERMINAL_QUEUE_DEPTH
) -> TerminalBoard:
    """Everything the terminal shows, for all machines (or those in ``machine_ids``), by name.

    Contract: five queries whatever the number of machines, jobs, lots and stock items (machines with
    their lot and telemetry; current jobs; the first ``queue_depth`` queued jobs of each machine with the
    queue's length; the life-safety banner; the live workers' queues). Returns plain data only.
    """
    now = timezone.now()
    machines = Machine.objects.order_by("name")
    if machine_ids is not None:
        machines = machines.filter(pk__in=machine_ids)
    current = _current_jobs(machine_ids)
    heads = _queue_heads(machine_ids, queue_depth)
    live = core_selectors.live_queues(alive_s=settings.MES_WORKER_ALIVE_S)
    tiles = []
    for row in machines.values(*_MACHINE_FIELDS):
        queue = heads.get(row["pk"], ())
        job = current.get(row["pk"])
        offers = _engine_offers(row["firmware"])
        tiles.append(
            MachineTile(
                pk=row["pk"],
                name=row["name"],
                machine_type=row["machine_type"],
                machine_type_label=MachineType(row["machine_type"]).label,
                firmware_label=_firmware_label(row["firmware"]),
                state=row["state"],
                state_label=MachineState(row["state"]).label,
                state_reason=row["state_reason"],
                current=_job_card(job, now) if job else None,
                queue=tuple(_job_card(q, now) for q in queue),
                queue_length=queue[0]["queue_length"] if queue else 0,
                lot=_lot_card(row),
                telemetry=_telemetry_card(row, now),
                unreachable=bool(row["port_url"]) and machine_queue_name(row["pk"]) not in live,
                on_cable=bool(row["port_url"]),
                maintenance=offers[0],
                override_kinds=offers[1],
            )
        )
    return TerminalBoard(tiles=tuple(tiles), life_safety_machines=life_safety_queued_machines())


def machine_queue_cards(machine: Machine) -> list[JobCard]:
    """The machine's whole queue in priority order, as job cards (one query)."""
    now = timezone.now()
    jobs = Job.objects.filter(machine=machine, state=JobState.QUEUED).order_by(*QUEUE_ORDER)
    return [_job_card(row, now) for row in jobs.values(*_JOB_FIELDS)]


def queued_jobs_blocked(jobs) -> dict[int, str]:
    """``{job id: why it cannot start where it is queued}`` for those of ``jobs`` (queued ones only) whose
    program the start interlock would refuse on their machine as it is set up now (offsets moved, a new
    spindle limit...). Memoised per program text and machine profile, like the start check itself."""
    queued = [job for job in jobs if job.state == JobState.QUEUED]
    if not queued:
        return {}
    programs = Program.objects.in_bulk({job.program_id for job in queued})
    machines = Machine.objects.in_bulk({job.machine_id for job in queued})
    blocked = {}
    for job in queued:
        errors = program_errors_on_machine(programs[job.program_id], machines[job.machine_id])
        if errors:
            blocked[job.pk] = errors[0]
    return blocked


def program_materials_for_machine(machine: Machine) -> set[tuple[str, str]]:
    """(material in lower case, unit) pairs that programs for this machine's type and firmware consume."""
    programs = Program.objects.filter(machine_type=machine.machine_type, firmware=machine.firmware)
    pairs = programs.values_list("material", "material_unit").distinct()
    return {(material.strip().lower(), unit) for material, unit in pairs}


def _lots_of(pairs: set[tuple[str, str]]) -> QuerySet[FeedstockLot]:
    if not pairs:
        return FeedstockLot.objects.none()
    match = Q()
    for material, unit in pairs:
        match |= Q(material_key=material, unit=unit)
    return FeedstockLot.objects.annotate(material_key=Lower(Trim("material"))).filter(match)


def feedstock_lots_for_machine(machine: Machine) -> QuerySet[FeedstockLot]:
    """Lots with material left that some program of this machine's type consumes, by material and code."""
    pairs = program_materials_for_machine(machine)
    return _lots_of(pairs).filter(quantity_on_hand__gt=0).order_by("material", "code")


def feedstock_lots_for_program(program, *, also: FeedstockLot | None = None) -> QuerySet[FeedstockLot]:
    """Lots a job of ``program`` could draw from (its material and unit, not empty), plus ``also``.

    ``also`` (the machine's loaded lot) is offered even when it does not fit, so that the pre-flight shows
    it as loaded and the start refuses it in the service's own words.
    """
    lots = _lots_of({(program.material.strip().lower(), program.material_unit)}).filter(
        quantity_on_hand__gt=0
    )
    if also is not None:
        lots = lots | FeedstockLot.objects.annotate(material_key=Lower(Trim("material"))).filter(pk=also.pk)
    return lots.order_by("material", "code")


@dataclass(frozen=True)
class MaintenanceCard:
    """The latest unlock or homing of a machine, as the terminal shows it."""

    command: str  # "unlock" | "home"
    label: str  # "Unlock ($X)"
    issued_at: datetime
    issued_by: str
    taken: bool  # the machine's worker took it
    finished: bool
    succeeded: bool | None
    outcome: str


@dataclass(frozen=True)
class ControllerCard:
    """What the machine page says about the controller: the fault in words, the last maintenance command."""

    fault: str  # "Alarm 1: Hard limit triggered. ..." from the machine's error, or ""
    latest: MaintenanceCard | None


MAINTENANCE_LABELS = {"unlock": "Unlock ($X)", "home": "Home ($H)"}


def machine_controller_card(machine: Machine) -> ControllerCard:
    """The controller part of a machine's page (two queries): the meaning in words of the fault code its
    engine finds in the machine's error or its last telemetry message, and its latest unlock or homing."""
    fault = ""
    try:
        engine = engine_class(machine.firmware)
    except ValueError:
        engine = None
    telemetry = machine_selectors.machine_telemetry(machine.pk)
    texts = [machine.state_reason if machine.state == MachineState.ERROR else ""]
    texts.append(telemetry.message if telemetry is not None else "")
    for text in texts:
        if engine is not None and text:
            fault = engine.explain_fault(text) or ""
            if fault:
                break
    command = machine_selectors.machine_maintenance_latest(machine.pk)
    latest = None
    if command is not None:
        latest = MaintenanceCard(
            command=command.command,
            label=MAINTENANCE_LABELS.get(command.command, command.command),
            issued_at=command.issued_at,
            issued_by=str(command.issued_by or ""),
            taken=command.handled_at is not None,
            finished=command.finished_at is not None,
            succeeded=command.succeeded,
            outcome=command.outcome,
        )
    return ControllerCard(fault=fault, latest=latest)
