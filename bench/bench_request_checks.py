"""Request checks: what refusing deep JSON and bad text costs every request with a body.

Our way (``app.request_checks``): count brackets, and only when there are more than the
depth limit scan the text once for its depth (strings blanked by one regex, a cumulative
sum in numpy); parse and walk the strings only when the raw text holds a ``\\u0000`` or
surrogate escape. The naive way parses every body and walks it recursively for its depth
and its strings. Same bodies for both, in one run.
"""

import json
import re

from app.request_checks import _SUSPECT_ESCAPE, bad_text_fields, json_depth
from bench.common import md_table, ratio, summary_ms, time_calls

LIMIT = 32
_BAD = re.compile("[\x00\ud800-\udfff]")


def bodies():
    """Return bodies as clients send them: small, a long route, a large area polygon."""
    ring = [[27.8 + i * 1e-5, -26.2 + (i % 7) * 1e-5] for i in range(9_999)] + [[27.8, -26.2]]
    route = [{"latitude": -26.2 + i * 1e-5, "longitude": 27.8} for i in range(500)]
    return {
        "station (90 B)": {"name": "Orlando West", "latitude": -26.2386, "longitude": 27.908,
                           "capacity": 4},
        "flight plan, 500 waypoints": {"drone_id": 1, "purpose": "patrol", "route": route,
                                       "min_altitude_m": 30, "max_altitude_m": 90},
        "area, 10,000 vertices": {"name": "Farm", "geometry": {"type": "Polygon",
                                                               "coordinates": [ring]}},
    }


def ours(body):
    """Check a body as the service does."""
    if body.count(b"[") + body.count(b"{") > LIMIT and json_depth(body) > LIMIT:
        return "too deep"
    if _SUSPECT_ESCAPE.search(body):
        return bad_text_fields(json.loads(body))
    return []


def naive(body):
    """Parse a body and walk it for its depth and its strings."""
    value = json.loads(body)

    def walk(item, depth):
        if isinstance(item, dict):
            return max([depth + 1] + [walk(v, depth + 1) for v in item.values()])
        if isinstance(item, list):
            return max([depth + 1] + [walk(v, depth + 1) for v in item])
        if isinstance(item, str) and _BAD.search(item):
            raise ValueError("bad text")
        return depth

    return "too deep" if walk(value, 0) > LIMIT else []


def run():
    """Time both ways on each body; return the Markdown section."""
    rows, ratios = [], []
    for name, value in bodies().items():
        body = json.dumps(value).encode()
        assert ours(body) == naive(body) == []
        repeat = 200 if len(body) < 100_000 else 30
        our, their = time_calls(lambda b=body: ours(b), repeat), time_calls(
            lambda b=body: naive(b), repeat)
        ratios.append(ratio(their, our))
        rows.append([name, f"{len(body):,}", f"{summary_ms(our)['median_ms']:.3f}",
                     f"{summary_ms(their)['median_ms']:.3f}", f"{ratios[-1]:.1f}×"])
    table = md_table(["body", "bytes", "ours (ms)", "parse and walk (ms)", "ratio"], rows)
    return ("## Request checks (deep JSON, null bytes, lone surrogates)\n\n"
            "Checking a body before the view reads it, against parsing and walking it. The "
            f"check refuses nesting deeper than {LIMIT} and bad text (docs/hardening.md).\n\n"
            f"{table}\n")


if __name__ == "__main__":
    print(run())
