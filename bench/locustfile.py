"""Locust users for the load bench (``bench/bench_load.py`` runs them headless).

One user class per endpoint; each user sends its next request as soon as the last
is answered. Only the expected status counts as success (200, or 201 for a report).
The token comes from ``BENCH_TOKEN``. Every request's start (epoch seconds), exact
response time (ms) and status go to ``BENCH_SAMPLES_FILE`` when the run stops: locust's
CSV rounds percentiles and has no timeline.
"""

import json
import math
import os
import random

from locust import FastHttpUser, constant, events, task

SOWETO = (-26.2485, 27.8540)
REPORT_RADIUS_M = 5000.0
TYPES = ("burglary", "robbery", "assault", "suspicious_activity", "vehicle_theft", "other")
_samples = []


@events.request.add_listener
def _keep_sample(start_time, response_time, response=None, **_kwargs):
    status = getattr(response, "status_code", None) or 0  # 0: no HTTP answer at all
    _samples.append((start_time, response_time, status))


@events.spawning_complete.add_listener
def _forget_ramp_up(**_kwargs):
    _samples.clear()  # as --reset-stats does with locust's own figures


@events.test_stop.add_listener
def _write_samples(**_kwargs):
    path = os.environ.get("BENCH_SAMPLES_FILE")
    if path:
        with open(path, "w") as handle:
            json.dump(_samples, handle)


class BenchUser(FastHttpUser):
    abstract = True
    wait_time = constant(0)

    def on_start(self):
        self.auth = {"Authorization": f"Bearer {os.environ.get('BENCH_TOKEN', '')}"}

    def expect(self, method, path, name, status, **kwargs):
        with self.client.request(method, path, name=name, headers=self.auth,
                                 catch_response=True, **kwargs) as response:
            if response.status_code != status:
                response.failure(f"HTTP {response.status_code}")


class HelloUser(BenchUser):
    @task
    def hello(self):
        self.expect("GET", "/hello", "hello", 200)


class ListIncidentsUser(BenchUser):
    @task
    def list_incidents(self):
        self.expect("GET", "/api/incidents", "GET /api/incidents", 200)


class ReportIncidentUser(BenchUser):
    @task
    def report_incident(self):
        bearing = random.uniform(0, 2 * math.pi)
        distance = REPORT_RADIUS_M * math.sqrt(random.random())
        lat = SOWETO[0] + distance * math.cos(bearing) / 111_320
        lon = SOWETO[1] + distance * math.sin(bearing) / (111_320 * math.cos(math.radians(lat)))
        body = {"type": random.choice(TYPES), "severity": random.randint(1, 5),
                "latitude": round(lat, 6), "longitude": round(lon, 6)}
        self.expect("POST", "/api/incidents", "POST /api/incidents", 201, json=body)


class HotspotsUser(BenchUser):
    @task
    def hotspots(self):
        self.expect("GET", "/api/analytics/hotspots", "GET /api/analytics/hotspots", 200)
