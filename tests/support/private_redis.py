"""A private Redis server for fault tests: its own port and directory, nothing persisted.

Tests may kill it and start it again on the same port, or freeze it (SIGSTOP: its
connections stay open, nothing answers); the machine's shared Redis is never touched.
Started again, it is empty, as a Redis without persistence is after a restart: the
queued messages are gone.
"""

import shutil
import subprocess
from pathlib import Path

from tests.support.standins import ServerProcess, free_port, wait_until


def redis_server_program():
    """The path of ``redis-server``, or None."""
    return shutil.which("redis-server")


class PrivateRedis(ServerProcess):
    """One ``redis-server`` on 127.0.0.1 with no snapshot and no append-only file."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.log = self.folder / "redis.log"
        self.port = free_port()
        self.process = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s=30):
        """Start the server (on the same port each time) and wait until it answers."""
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [redis_server_program(), "--port", str(self.port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--daemonize", "no",
                 "--dir", str(self.folder)],
                stdout=log, stderr=subprocess.STDOUT)
        wait_until(lambda: self.answers() or self.process.poll() is not None, timeout_s)
        if not self.answers():
            raise RuntimeError(f"private redis-server did not start:\n{self.log.read_text()}")
        return self

    def answers(self):
        import redis

        try:
            return redis.Redis(port=self.port, socket_connect_timeout=1).ping()
        except redis.RedisError:
            return False
