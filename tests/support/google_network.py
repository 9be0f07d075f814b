"""Google's hosts on this machine: a certificate authority and a CONNECT proxy.

firebase-admin and google-auth send to fixed HTTPS hosts. A test points the process at
``TunnelProxy`` with ``HTTPS_PROXY`` and trusts the test CA (made by trustme) with
``REQUESTS_CA_BUNDLE``: the clients then run unchanged, and the proxy opens each tunnel
to a local HTTPS stand-in whose certificate names Google's hosts. A tunnel to any other
host is refused and remembered, so a test can fail on it.
"""

import select
import socket
import socketserver
import ssl
import threading

import trustme

GOOGLE_HOSTS = ("fcm.googleapis.com", "oauth2.googleapis.com", "iamcredentials.googleapis.com")
TOKEN_URI = "https://oauth2.googleapis.com/token"


class GoogleCertificates:
    """A test CA and a server certificate for ``GOOGLE_HOSTS``."""

    def __init__(self, directory):
        self.ca = trustme.CA()
        self.server_cert = self.ca.issue_cert(*GOOGLE_HOSTS)
        self.ca_file = directory / "test-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))

    def server_context(self):
        """An SSL context for a stand-in that answers as Google's hosts."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server_cert.configure_cert(context)
        return context

    def trust(self, monkeypatch, proxy):
        """Send this process's HTTPS through ``proxy`` and trust the test CA."""
        for name in ("NO_PROXY", "no_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(self.ca_file))
        monkeypatch.setenv("SSL_CERT_FILE", str(self.ca_file))


class TunnelProxy:
    """An HTTP CONNECT proxy on 127.0.0.1 tunnelling Google's hosts to ``upstream_port``.

    ``refused`` lists the hosts asked for that are not Google's. When nothing listens
    on the upstream port, the proxy answers 502, as a proxy does for a host that is down.
    """

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.refused = []
        self.tunnels = []
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                proxy._handle(self.request)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def _handle(self, client):
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk:
                return
            head += chunk
        method, target = head.split(b"\r\n", 1)[0].decode().split(" ")[:2]
        host = target.rsplit(":", 1)[0]
        if method != "CONNECT" or host not in GOOGLE_HOSTS:
            self.refused.append(target)
            client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
        except OSError:
            client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        upstream.settimeout(None)
        self.tunnels.append(host)
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        with upstream:
            _pipe(client, upstream)


def _pipe(one, other):
    """Copy bytes both ways until either side closes."""
    sockets = [one, other]
    while True:
        readable, _, _ = select.select(sockets, [], [], 30)
        if not readable:
            return
        for source in readable:
            data = source.recv(65536)
            if not data:
                return
            (other if source is one else one).sendall(data)
