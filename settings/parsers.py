"""How a setting's text becomes its value: one parser per kind of default."""

from datetime import timedelta
from pathlib import Path

TRUE_WORDS = {"1", "true", "yes", "on"}


def flag(raw):
    """Parse a switch: 1, true, yes or on (any case) is on; anything else is off."""
    return raw.strip().lower() in TRUE_WORDS


def comma_list(raw):
    """Parse comma-separated values."""
    return [item.strip() for item in raw.split(",") if item.strip()]


def key_pairs(raw):
    """Parse ``key=value`` pairs separated by commas."""
    pairs = {}
    for item in comma_list(raw):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"expected key=value pairs, got {item!r}")
        pairs[key.strip()] = value.strip()
    return pairs


def number_pairs(raw):
    """Parse ``key=number`` pairs separated by commas (they override the default's keys)."""
    try:
        return {key: float(value) for key, value in key_pairs(raw).items()}
    except ValueError:
        raise ValueError(f"expected key=number pairs, got {raw!r}") from None


def header_lines(raw):
    """Parse ``Name: value`` pairs separated by newlines or ``;;``."""
    headers = {}
    for line in raw.replace(";;", "\n").splitlines():
        if line.strip():
            key, sep, value = line.partition(":")
            if not sep or not key.strip():
                raise ValueError(f"expected 'Name: value' pairs, got {line!r}")
            headers[key.strip()] = value.strip()
    return headers


def seconds(raw):
    """Parse a whole number of seconds into a duration."""
    return timedelta(seconds=int(raw))


PARSERS = {bool: flag, int: int, float: float, list: comma_list, dict: key_pairs,
           timedelta: seconds, type(Path()): Path}
