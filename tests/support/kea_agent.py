"""A stand-in for Kea 2.2's Control Agent that answers ``status-get`` with the HA states a test
names, for gate tests that need a member in a state a real pair would take minutes (or a clock
skew) to reach. A service with no state is answered as the agent answers for a server that is
not running."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _agent_for(states: dict[str, str], partner: str) -> type[BaseHTTPRequestHandler]:
    class Agent(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            (service,) = body["service"]
            reply: list[dict[str, Any]]
            if service in states:
                servers = {"local": {"state": states[service]}, "remote": {"last-state": partner}}
                reply = [{"result": 0, "arguments": {"high-availability": [{"ha-servers": servers}]}}]
            else:
                reply = [{"result": 1, "text": f"Unable to forward command to the {service} service: No such file "
                          "or directory. The server is likely to be offline"}]
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    return Agent


@contextmanager
def kea_agent(partner: str = "load-balancing", **states: str) -> Iterator[str]:
    """``host:port`` of an agent whose servers (``dhcp4=``, ``dhcp6=``) are in the given local
    states, each seeing its partner last in ``partner``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _agent_for(states, partner))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
