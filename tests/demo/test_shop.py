"""Which demo machines get a simulator, and with which envelope."""

import pytest

from demo.shop import local_tcp_port, simulator_options
from mes.production.models import Machine


@pytest.mark.parametrize(
    ("url", "port"),
    [
        ("socket://127.0.0.1:7101", 7101),
        ("socket://localhost:7202", 7202),
        ("socket://10.0.0.5:7101", None),  # a real serial server elsewhere
        ("/dev/ttyUSB0", None),
        ("rfc2217://127.0.0.1:7101", None),
        ("socket://127.0.0.1", None),
    ],
)
def test_only_local_tcp_ports_are_simulated(url, port):
    assert local_tcp_port(url) == port


def test_the_simulator_gets_the_machines_envelope():
    mill = Machine(firmware="grbl", x_min=0, x_max=300, y_min=0, y_max=200, z_min=-10, z_max=80)
    printer = Machine(firmware="marlin", x_min=0, x_max=250, y_min=0, y_max=210, z_min=0, z_max=210)
    assert simulator_options(mill) == {"envelope": (300, 200, 90)}
    assert simulator_options(printer) == {"bed_size": (250, 210, 210)}
