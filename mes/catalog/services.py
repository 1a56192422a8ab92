"""Catalogue services: parts, revisions (drawings) and programs."""

import hashlib
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from machines import gcode
from machines.protocol.registry import profile_for
from mes.catalog.models import MachineType, Part, PartRevision, Program
from mes.catalog.specs import validate_spec
from mes.core.errors import RuleViolation
from mes.core.roles import authorize
from mes.core.transitions import audited_save

# Filament densities (g/cm3) for turning extruded length into grams; unknown materials use PLA's.
FILAMENT_DENSITY = {"PLA": 1.24, "PETG": 1.27, "ABS": 1.04, "ASA": 1.07, "PA12": 1.01}

# A generous envelope used to check a program's syntax and commands when it is uploaded; the real
# envelope of each machine is checked at dispatch and again before a byte is sent.
UPLOAD_ENVELOPE = gcode.Envelope(-2000, 2000, -2000, 2000, -500, 500)


@transaction.atomic
def part_create(actor, *, number: str, name: str, kind: str, description: str = "") -> Part:
    """Create a part; its number must be new."""
    authorize(actor, "part_create")
    if Part.objects.filter(number=number).exists():
        raise RuleViolation(f"Part number {number} already exists.", field="number")
    part = Part(number=number, name=name, kind=kind, description=description)
    audited_save(part, actor=actor, reason="created")
    return part


@transaction.atomic
def part_revision_create(actor, *, part: Part, revision: str, spec: dict, material: str):
    """Add a drawn revision to ``part``; the spec is validated (see :mod:`mes.catalog.specs`)."""
    authorize(actor, "part_revision_create")
    spec = validate_spec(spec)
    if part.revisions.filter(revision=revision).exists():
        raise RuleViolation(f"{part.number} already has revision {revision}.", field="revision")
    rev = PartRevision(part=part, revision=revision, spec=spec, material=material)
    audited_save(rev, actor=actor, reason="created")
    return rev


@transaction.atomic
def part_revision_release(actor, *, revision: PartRevision) -> PartRevision:
    """Release a revision for production and inspection. Releasing twice is refused."""
    authorize(actor, "part_revision_release")
    revision = PartRevision.objects.select_for_update().get(pk=revision.pk)
    if revision.released:
        raise RuleViolation(f"{revision} is already released.")
    revision.released = True
    revision.released_at = timezone.now()
    revision.released_by = actor
    audited_save(revision, actor=actor, reason="released")
    return revision


def _upload_profile(firmware: str) -> gcode.MachineProfile:
    """The profile a program is checked against at upload: the firmware's rules, a huge envelope.

    Home is the origin (GRBL's work zero, Marlin's homed corner) so that the estimated extent of the
    program is the extent of its own moves.
    """
    return profile_for(firmware, UPLOAD_ENVELOPE, home_position=(0.0, 0.0, 0.0), production=True)


def _program_issues_text(issues) -> str:
    """The first few issues of a check, one per line, for an error message."""
    shown = [str(issue) for issue in issues[:5]]
    more = len(issues) - len(shown)
    return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")


def _material_use_for(machine_type: str, material: str, estimate) -> tuple[Decimal, str]:
    """Feedstock one run consumes: grams of filament for a printer, one blank for a mill."""
    if machine_type == MachineType.FDM_PRINTER:
        density = FILAMENT_DENSITY.get(material.split()[0].upper(), FILAMENT_DENSITY["PLA"])
        grams = gcode.filament_grams(estimate.extrusion_mm, density_g_cm3=density)
        return Decimal(f"{grams:.3f}"), "g"
    return Decimal(1), "blank"


def _check_program_size(machine_type: str, gcode_text: str) -> None:
    """Refuse a program larger than its machine type may take (``MES_MAX_PROGRAM_MB``)."""
    limit_mb = settings.MES_MAX_PROGRAM_MB.get(machine_type, settings.MES_MAX_PROGRAM_MB["other"])
    size = len(gcode_text.encode())
    if size > limit_mb * 1_000_000:
        kind = MachineType(machine_type).label if machine_type in MachineType.values else machine_type
        raise RuleViolation(
            f"The program is {size / 1_000_000:.3g} MB; programs for a {kind} may be at most {limit_mb:g} MB "
            "(MES_MAX_PROGRAM_MB). Split the job or ask the administrator to raise the limit.",
            field="gcode",
        )


def program_create(
    actor,
    *,
    revision: PartRevision,
    name: str,
    machine_type: str,
    firmware: str,
    gcode_text: str,
    material: str = "",
    parts_per_run: int = 1,
) -> Program:
    """Store a program after checking its syntax and commands; hash it and estimate time and material.

    A program with syntax errors or forbidden commands is refused with the first errors named by line;
    one larger than its machine type's limit is refused before it is read. The check runs before the
    transaction opens, so a long program never holds the database's write lock while it is read.
    """
    authorize(actor, "program_create")
    _check_program_size(machine_type, gcode_text)
    profile = _upload_profile(firmware)
    parsed, report = gcode.check_program(gcode_text, profile)
    if not report.ok:
        raise RuleViolation(f"The program has errors: {_program_issues_text(report.errors)}", field="gcode")
    estimate = gcode.estimate_program(parsed, profile)
    with transaction.atomic():
        return _program_store(
            actor,
            revision=revision,
            name=name,
            machine_type=machine_type,
            firmware=firmware,
            gcode_text=gcode_text,
            material=material or revision.material,
            parts_per_run=parts_per_run,
            estimate=estimate,
        )


def _program_store(
    actor, *, revision, name, machine_type, firmware, gcode_text, material, parts_per_run, estimate
) -> Program:
    """Hash and store a checked program (the caller holds the transaction)."""
    sha = hashlib.sha256(gcode_text.encode()).hexdigest()
    if revision.programs.filter(sha256=sha).exists():
        raise RuleViolation("This exact program is already stored for this revision.", field="gcode")
    use, unit = _material_use_for(machine_type, material, estimate)
    bounds = estimate.bounds
    program = Program(
        revision=revision,
        name=name,
        machine_type=machine_type,
        firmware=firmware,
        material=material,
        gcode=gcode_text,
        sha256=sha,
        line_count=estimate.line_count,
        estimated_seconds=round(estimate.seconds, 1),
        material_use=use,
        material_unit=unit,
        parts_per_run=parts_per_run,
        bounds=None
        if bounds is None
        else [
            [bounds.x_min, bounds.x_max],
            [bounds.y_min, bounds.y_max],
            [bounds.z_min, bounds.z_max],
        ],
    )
    audited_save(program, actor=actor, reason="uploaded")
    return program


@transaction.atomic
def program_release(actor, *, program: Program) -> Program:
    """Release a program for production; its revision must be released first."""
    authorize(actor, "program_release")
    program = Program.objects.select_for_update().select_related("revision__part").get(pk=program.pk)
    if program.released:
        raise RuleViolation(f"{program} is already released.")
    if not program.revision.released:
        raise RuleViolation(f"Release revision {program.revision} before its programs.", field="program")
    program.released = True
    program.released_at = timezone.now()
    audited_save(program, actor=actor, reason="released")
    return program
