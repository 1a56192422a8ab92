"""Domain errors: what a service raises when a request breaks a business rule.

Views and API views turn these into plain-words messages next to the field or action that caused them;
services raise them before changing anything (each service is one transaction, so nothing half-made stays).
"""


class DomainError(Exception):
    """A request the shop's rules refuse.

    ``message`` is written for the person at the terminal; ``field`` names the input that caused it
    (or ``None`` when the action itself is refused); ``code`` is a stable machine-readable slug.
    """

    code = "domain_error"
    status = 400

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code

    def __str__(self) -> str:
        return self.message


class RuleViolation(DomainError):
    """Input that is well-formed but breaks a rule (wrong sector for a module, quantity too large...)."""

    code = "rule_violation"


class IllegalTransition(DomainError):
    """A state change that the entity's transition table does not allow."""

    code = "illegal_transition"
    status = 409


class NotPermitted(DomainError):
    """The actor's roles do not allow this action."""

    code = "not_permitted"
    status = 403


class InsufficientFeedstock(DomainError):
    """A job would use more feedstock than the lot holds, or the lot is the wrong material."""

    code = "insufficient_feedstock"
    status = 409


class ProgramNotReleased(DomainError):
    """A job may run only a released program of a released revision."""

    code = "program_not_released"
    status = 409


class NoCapableMachine(DomainError):
    """No machine in service can run any program of the revision."""

    code = "no_capable_machine"
    status = 409


class MachineUnavailable(DomainError):
    """The machine cannot take a command now: no cable, no live worker, or another command under way."""

    code = "machine_unavailable"
    status = 409
