"""Local stand-ins for tests: free ports, child processes, and an FCM v1 server.

The FCM stand-in answers what Firebase Cloud Messaging answers (HTTP v1 API
bodies, and the OAuth token endpoint a service account uses), on 127.0.0.1; the
``fcm_standin`` fixture (conftest) puts it behind Google's host names.
"""

import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pytest_httpserver import HTTPServer
from werkzeug import Response

PROJECT_ID = "cps-test"
SEND_PATH = f"/v1/projects/{PROJECT_ID}/messages:send"
ACCESS_TOKEN = "stand-in-access-token"
IAM_PATH = re.compile(r"^/v1/projects/-/serviceAccounts/[^/]+/allowedLocations$")
TOPIC_PATH = re.compile(rf"^/v1/projects/{PROJECT_ID}/registrations/([^/]+)/topicSubscriptions")
FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"


def free_port():
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout_s, interval_s=0.1):
    """Poll ``predicate`` until it returns something truthy; return that or None."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval_s)
    return None


def child_env(**overrides):
    """The environment for a child app process: no settings leak in from ours."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("CPS_", "JWT_", "DATABASE_", "SCHEDULER_", "NOTIF", "FCM_"))}
    env.update({"CPS_ENV": "development", "CPS_DOTENV": os.devnull, "LOG_LEVEL": "WARNING",
                "INSTANCE_DIR": os.path.join(tempfile.gettempdir(), "cps-test-instance")})
    env.update({key: str(value) for key, value in overrides.items()})
    return env


def write_service_account(path, token_uri):
    """Write a service-account JSON with a fresh RSA key; ``token_uri`` is the stand-in's."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    path.write_text(json.dumps({
        "type": "service_account",
        "project_id": PROJECT_ID,
        "private_key_id": "stand-in-key-1",
        "private_key": pem,
        "client_email": f"push@{PROJECT_ID}.iam.gserviceaccount.com",
        "client_id": "100000000000000000001",
        "token_uri": token_uri,
    }))
    return path


def fcm_error(status, code, message, error_code=None, extra_details=()):
    """An FCM v1 error response body."""
    details = [{"@type": FCM_ERROR, "errorCode": error_code}] if error_code else []
    return {"error": {"code": status, "message": message, "status": code,
                      "details": details + list(extra_details)}}


# What FCM answers, by the first word of the registration token (or topic) sent.
ANSWERS = {
    "unregistered": (404, fcm_error(404, "NOT_FOUND", "Requested entity was not found.",
                                    "UNREGISTERED")),
    "invalid": (400, fcm_error(
        400, "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token",
        "INVALID_ARGUMENT",
        [{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [
            {"field": "message.token",
             "description": "The registration token is not a valid FCM registration token"}]}])),
    "badpayload": (400, fcm_error(
        400, "INVALID_ARGUMENT",
        "Invalid value at 'message.data[0].value' (TYPE_STRING), 12", "INVALID_ARGUMENT",
        [{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [
            {"field": "message.data[0].value", "description": "Invalid value"}]}])),
    "unavailable": (503, fcm_error(503, "UNAVAILABLE", "The service is currently unavailable.",
                                   "UNAVAILABLE")),
    "quota": (429, fcm_error(
        429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Send requests'.",
        "QUOTA_EXCEEDED")),
}


class ServerProcess:
    """A private server subprocess (``self.process``) a test can crash, freeze and stop."""

    process = None

    def kill(self):
        """SIGKILL the server, as a crash or an OOM kill would."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def freeze(self):
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self):
        self.process.send_signal(signal.SIGCONT)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.thaw()
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class HttpStandIn:
    """An HTTP(S) server on 127.0.0.1 (threaded); subclasses register what it answers."""

    def __init__(self, port=0, ssl_context=None):
        self.server = HTTPServer(host="127.0.0.1", port=port, threaded=True,
                                 ssl_context=ssl_context)

    def start(self):
        self.server.start()
        return self

    def stop(self):
        if self.server.is_running():
            self.server.stop()

    @property
    def port(self):
        return self.server.port

    def url(self, path="/"):
        return self.server.url_for(path)


class FcmStandIn(HttpStandIn):
    """A server on 127.0.0.1 speaking FCM HTTP v1 and Google's OAuth token endpoint.

    Tests reach it as Google's hosts over HTTPS, through ``tests.support.google_network``.
    """

    def __init__(self, port=0, ssl_context=None):
        super().__init__(port, ssl_context)
        self.sent = []
        # Messages to tokens starting "slow" are accepted (recorded: FCM delivers them)
        # and answered only after this many seconds, like FCM on a bad day.
        self.slow_answer_s = 0.0
        self.gate = None  # a threading.Event: "slow…" answers also wait until it is set
        self.topic_changes = []
        self.iam_lookups = []
        self.server.expect_request("/token", method="POST").respond_with_handler(self._token)
        self.server.expect_request(SEND_PATH, method="POST").respond_with_handler(self._send)
        self.server.expect_request(TOPIC_PATH).respond_with_handler(self._topic)
        self.server.expect_request(IAM_PATH, method="GET").respond_with_handler(self._locations)

    # handlers
    def _token(self, request):
        assert request.form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
        return Response(json.dumps({"access_token": ACCESS_TOKEN, "expires_in": 3600,
                                    "token_type": "Bearer"}), content_type="application/json")

    def _send(self, request):
        message = request.get_json()["message"]
        self.sent.append({"message": message,
                          "authorization": request.headers.get("Authorization")})
        target = message.get("token") or message.get("topic") or ""
        if target.startswith("slow"):
            time.sleep(self.slow_answer_s)
            if self.gate is not None:
                self.gate.wait(30)
        status, body = ANSWERS.get(target.split("-")[0], (200, None))
        if status == 200:
            body = {"name": f"projects/{PROJECT_ID}/messages/0:{len(self.sent)}%stand-in"}
        return Response(json.dumps(body), status=status, content_type="application/json")

    def _topic(self, request):
        token = TOPIC_PATH.match(request.path).group(1)
        topic = request.args.get("topic_name") or request.path.rsplit("/", 1)[-1]
        self.topic_changes.append((request.method, token, topic))
        status, body = ANSWERS.get(token.split("-")[0], (200, {}))
        return Response(json.dumps(body), status=status, content_type="application/json")

    def _locations(self, request):
        """google-auth asks where the service account may be used (regional access boundary)."""
        self.iam_lookups.append(request.path)
        return Response(json.dumps({"locations": [], "encodedLocations": "0x0"}),
                        content_type="application/json")
