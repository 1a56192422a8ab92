"""pyserial URLs through the transport: loop://, socket://, device paths, and clear errors."""

import pytest

from machines import transport
from simulators.serve import SimulatedMachine


def test_loop_url_echoes_what_is_written():
    port = transport.open_port("loop://", 115200)
    try:
        transport.write_all(port, b"?")
        assert transport.read_available(port) == b"?"
    finally:
        transport.close_quietly(port)


def test_socket_url_reaches_a_network_serial_server():
    with SimulatedMachine("grbl", transport="tcp", baud=None, time_scale=0) as sim:
        port = transport.open_port(sim.url, 115200)
        try:
            assert sim.wait_for(lambda core: core.stats.connections == 1, timeout=5)
        finally:
            transport.close_quietly(port)


@pytest.mark.parametrize("url", ["/dev/no-such-port", "rfc2217://127.0.0.1:1", "socket://127.0.0.1:1"])
def test_ports_that_cannot_be_opened_say_which_and_why(url):
    with pytest.raises(transport.TransportLost, match=f"cannot open {url}"):
        transport.open_port(url, 115200)
