"""A private MariaDB server for fault tests: its own data directory, port and socket.

Tests may kill, freeze and restart it; the machine's shared server is never touched.
"""

import getpass
import shutil
import subprocess
from pathlib import Path

import pymysql

from tests.support.standins import ServerProcess, free_port, wait_until

SEARCH = ("/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin")


def find_program(name):
    """The path of a MariaDB program, or None."""
    return shutil.which(name) or next(
        (str(Path(folder) / name) for folder in SEARCH if (Path(folder) / name).is_file()), None)


class PrivateMariaDB(ServerProcess):
    """One mariadbd on 127.0.0.1 with a throwaway data directory; root has no password."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.datadir = self.folder / "data"
        self.socket = self.folder / "mariadb.sock"
        self.log = self.folder / "mariadbd.log"
        self.port = free_port()
        self.user = getpass.getuser()
        self.process = None

    @property
    def server_url(self):
        return f"mysql+pymysql://root@127.0.0.1:{self.port}"

    def install(self):
        """Create the system tables in the data directory."""
        subprocess.run(
            [find_program("mariadb-install-db"), "--no-defaults", f"--datadir={self.datadir}",
             "--auth-root-authentication-method=normal", "--skip-test-db",
             f"--user={self.user}"],
            check=True, capture_output=True, timeout=120)

    def start(self):
        """Start the server and wait until it answers."""
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [find_program("mariadbd"), "--no-defaults", f"--datadir={self.datadir}",
                 f"--user={self.user}", f"--port={self.port}", "--bind-address=127.0.0.1",
                 f"--socket={self.socket}", f"--pid-file={self.folder / 'mariadbd.pid'}",
                 "--skip-log-bin", "--skip-name-resolve", "--innodb-buffer-pool-size=16M",
                 "--innodb-log-file-size=8M", "--max-connections=50"],
                stdout=log, stderr=subprocess.STDOUT)
        wait_until(lambda: self.answers() or self.process.poll() is not None, 60, 0.1)
        if not self.answers():
            raise RuntimeError(f"private mariadbd did not start:\n{self.log.read_text()}")

    def answers(self):
        try:
            pymysql.connect(host="127.0.0.1", port=self.port, user="root",
                            connect_timeout=1).close()
            return True
        except pymysql.err.OperationalError:
            return False

    def execute(self, sql):
        connection = pymysql.connect(host="127.0.0.1", port=self.port, user="root",
                                     connect_timeout=3, autocommit=True)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql)
        finally:
            connection.close()
