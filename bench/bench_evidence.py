"""Readable evidence: what the scale bar, dates, legend and side-by-side image cost.

Ours is ``evidence_images`` with a caption, as a session writes it for every change:
before, after and overlay, each with its annotation strip, and the side-by-side
image. The plain way is the evidence before it: three unannotated crops. Both run on
the same changes, found by ``compare_tiles`` in synthetic 256² pairs (town and
country); the comparison of one pair is timed too, for scale.
"""

import statistics

from app.services.change_detection import Caption, compare_tiles, evidence_images
from bench import change_scenes
from bench.common import md_table, summary_ms, time_calls

PAIRS = 12
REPEAT = 20


def changes():
    """(older image, comparison result, change) for every change in the benchmark pairs."""
    found = []
    for index in range(PAIRS):
        pair = change_scenes.make_pair(index, "clean", changed=True)
        result = compare_tiles(pair.before, pair.after, bounds=pair.bounds, zoom=pair.zoom)
        found += [(pair.before, result, change) for change in result.changes]
    return found


def plain(items):
    for older, result, change in items:
        evidence_images(older, result.registered_after, change)


def annotated(items):
    for older, result, change in items:
        caption = Caption(result.metres_per_pixel, "2030-01-01 06:00Z", "2030-02-01 06:00Z")
        evidence_images(older, result.registered_after, change, caption=caption)


def run():
    """Time plain and annotated evidence per change; return a Markdown section."""
    items = changes()
    pair = change_scenes.make_pair(0, "clean", changed=True)
    compare_samples = time_calls(lambda: compare_tiles(pair.before, pair.after,
                                                       bounds=pair.bounds, zoom=pair.zoom),
                                 REPEAT)
    plain_samples = [s / len(items) for s in time_calls(lambda: plain(items), REPEAT)]
    ours_samples = [s / len(items) for s in time_calls(lambda: annotated(items), REPEAT)]
    rows = [[label, f"{summary_ms(samples)['median_ms']:.2f}"] for label, samples in (
        ("plain: 3 crops, no annotation (as before)", plain_samples),
        ("ours: 3 annotated + side-by-side", ours_samples),
        ("for scale: compare_tiles, one 256² pair", compare_samples))]
    cost = statistics.median(ours_samples) / statistics.median(plain_samples)
    return "\n".join([
        "## Evidence images",
        "",
        f"Per change, encoded as PNG, over {len(items)} changes found in {PAIRS} synthetic "
        f"256² pairs; medians of {REPEAT} runs.",
        "",
        md_table(["evidence of one change", "ms"], rows),
        "",
        f"Readable evidence costs {cost:.1f}× the plain crops (ratio of medians): "
        f"{statistics.median(ours_samples) * 1000:.1f} ms per change, written only for "
        "changes found, next to the comparison of the tile itself.",
    ])


if __name__ == "__main__":
    print(run())
