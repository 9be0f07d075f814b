"""Why tiles were not compared: kinds of reason, counted per session and told to owners.

Every skip keeps its reason in words; its *kind* is what sessions count and owners
read. The session's own reasons name their kind; the detector's reasons are strings,
classified here by the words they start with.
"""

from collections import Counter

NOT_CAPTURED = "not_captured"
NO_EARLIER_CAPTURE = "no_earlier_capture"
SAME_SCENE = "same_scene"
FILE_UNREADABLE = "file_unreadable"
CLOUD_OR_HAZE = "cloud_or_haze"
INTERNAL_ERROR = "internal_error"
OTHER = "other"

# kind → how an owner reads it; the order is the order of the detector's checks
SKIP_KINDS = {
    NOT_CAPTURED: "not in the latest capture",
    NO_EARLIER_CAPTURE: "no earlier capture",
    SAME_SCENE: "no newer scene than the earlier capture",
    FILE_UNREADABLE: "image file missing or unreadable",
    "unreadable_image": "not a colour image",
    "blank": "blank imagery",
    "no_data": "mostly no imagery (black or transparent)",
    "placeholder": "a no-imagery placeholder",
    "saturated": "overexposed",
    CLOUD_OR_HAZE: "mostly cloud or haze",
    "sizes_differ": "captures of different sizes",
    "registration_failed": "captures could not be aligned",
    "overlap_too_small": "captures barely overlap",
    INTERNAL_ERROR: "an error comparing it (logged)",
    OTHER: "other",
    "unclassified": "recorded before reasons were classified",
}

# The detector's reasons are "<before|after> <problem>: …" or "<problem>: …".
_DETECTOR_WORDS = (
    ("sizes differ", "sizes_differ"),
    ("registration", "registration_failed"),
    ("overlap", "overlap_too_small"),
    ("unreadable", "unreadable_image"),
    ("blank", "blank"),
    ("no data", "no_data"),
    ("placeholder", "placeholder"),
    ("saturated", "saturated"),
    ("cloud", CLOUD_OR_HAZE),
    ("haze", CLOUD_OR_HAZE),
)


def detector_skip_kind(reason):
    """Return the kind of a change detector's skip reason (``other`` if none fits)."""
    problem = reason.lower().removeprefix("before ").removeprefix("after ")
    problem = problem.split(":", 1)[0]
    for words, kind in _DETECTOR_WORDS:
        if words in problem:
            return kind
    return OTHER


def count_skip(counts, kind):
    """Return ``counts`` (kind → tiles) with one more tile of ``kind``, as a new dict."""
    return dict(Counter(counts or {}) + Counter({kind: 1}))


def describe_skips(counts):
    """Say in words how many tiles were skipped for what, commonest first."""
    ordered = sorted((counts or {}).items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{count} {SKIP_KINDS.get(kind, kind)}" for kind, count in ordered)
