"""Exception hierarchy of the inspection pipeline.

Every failure that should turn into an "unable to inspect" verdict derives from
:class:`InspectionError`; input and configuration problems have their own types so the
caller can tell "the station is mis-configured" from "this photo cannot be judged".
"""


class PipelineError(Exception):
    """Base class of every error raised on purpose by :mod:`vision.pipeline`."""


class CalibrationError(PipelineError):
    """The calibration images or the calibration result are not good enough."""


class ImageInputError(PipelineError, ValueError):
    """The bytes handed in are not an acceptable image (format, size, truncation)."""


class SpecError(PipelineError, ValueError):
    """The drawing spec (catalogue JSON) is malformed or inconsistent."""


class InspectionError(PipelineError):
    """The part in this image cannot be inspected; becomes an UNABLE verdict."""

    code = "inspection_failed"


class NoPartError(InspectionError):
    """No foreground object large enough to be a part was found."""

    code = "no_part"


class MultiplePartsError(InspectionError):
    """Two or more part-sized objects are in view; the station inspects one at a time."""

    code = "multiple_parts"


class PartTouchesBorderError(InspectionError):
    """The part is cut by the edge of the field of view, so it cannot be measured whole."""

    code = "part_touches_border"


class PartTooLargeError(InspectionError):
    """The drawing's outline cannot fit the camera's view at any angle: no placement can be measured."""

    code = "part_too_large"


class MeasurementError(InspectionError):
    """An edge or hole fit did not converge or was implausible."""

    code = "measurement_failed"


class FaceDownError(InspectionError):
    """The part's holes fit its drawing only mirrored: it lies upside down on the station."""

    code = "face_down"
