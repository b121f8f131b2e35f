"""`python -m canvas_sandbox runserver`: Django's threaded dev server, minus the 40 ms stalls.

Django's server keeps HTTP/1.1 connections alive and writes headers and body
separately; with Nagle's algorithm on, a client's delayed ACK then holds
every keep-alive response for ~40 ms. Turning on TCP_NODELAY for each
accepted connection makes a sandbox call cost what its work costs, which
the bench and the test suite both rely on. Static files come from
WhiteNoise, so staticfiles' runserver is not needed.
"""

import contextlib
import socket

from django.core.management.commands.runserver import Command as RunserverCommand
from django.core.servers.basehttp import WSGIServer


class NoDelayWSGIServer(WSGIServer):
    """Django's WSGIServer with TCP_NODELAY on every accepted connection."""

    def get_request(self):
        """Accept a connection and switch off Nagle's algorithm on it."""
        connection, address = super().get_request()
        with contextlib.suppress(OSError):
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address


class Command(RunserverCommand):
    """Run the sandbox with NoDelayWSGIServer."""

    server_cls = NoDelayWSGIServer
