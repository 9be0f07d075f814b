"""Published incident exports (CSV, gzipped or not): columns mapped to fields, rows checked.

Every row either becomes an incident or is rejected with a reason, counted: no usable time,
no position, (0, 0), coordinates that are not latitude/longitude (State Plane feet typed in
those columns), outside the jurisdiction. Nothing raises on a bad row.
"""

import csv
import gzip
import io
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from app.services.hotspots.cleaning import OUTSIDE, position_problems
from app.services.hotspots.counts import Incidents

FIELDS = ("reported_at", "latitude", "longitude", "offense", "ucr")
REQUIRED = ("reported_at", "latitude", "longitude")
# Column names tried for a field when the mapping does not name one, compared with the
# header's names lower-cased, spaces and hyphens as underscores ("Primary Type", "LAT").
# The city portals' own names follow ours (Philadelphia, Chicago, Los Angeles, New York,
# San Francisco, Boston, Seattle, Denver): the first of a field's names the file has wins.
USUAL_COLUMNS = {
    "reported_at": ("reported_at", "dispatched_at", "occurred_at", "dispatch_date_time",
                    "date", "date_occ", "date_rptd", "cmplnt_fr_dt", "incident_datetime",
                    "occurred_on_date", "offense_start_datetime", "report_datetime",
                    "first_occurrence_date", "reported_date", "report_date",
                    "dispatch_date"),
    "latitude": ("latitude", "lat", "geo_lat", "point_y"),
    "longitude": ("longitude", "lon", "lng", "long", "geo_lon", "point_x"),
    "offense": ("offense", "offence", "text_general_code", "type", "primary_type",
                "offense_description", "ofns_desc", "crm_cd_desc", "incident_category",
                "offense_type_id", "category"),
    "ucr": ("ucr_general", "ucr", "ucr_code"),
}
NO_TIME = "no usable time"
# Times other than ISO 8601 that published exports use (month first, as US portals write
# it: 01/03/2023 is 3 January); a day-first file needs its times rewritten first.
EXPORT_TIME_FORMATS = ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M:%S",
                       "%m/%d/%Y %H:%M", "%m/%d/%Y", "%Y/%m/%d %I:%M:%S %p",
                       "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d",
                       "%Y-%m-%d %I:%M:%S %p")
LATEST_EPOCH = datetime(9999, 12, 30, tzinfo=UTC).timestamp()
PROGRESS_EVERY = 10_000
SEPARATORS = ",;\t|"


class CsvFormatError(ValueError):
    """The file is not a CSV this reader can map (missing columns, a bad mapping)."""


@dataclass(frozen=True)
class IncidentRows:
    """The usable rows of a file as arrays, and how many were rejected and why."""

    incidents: Incidents
    offense: np.ndarray
    ucr: np.ndarray
    rows_read: int
    rejected: dict


def parse_mapping(text):
    """Parse ``column=field,...`` (e.g. ``dispatched_at=reported_at``) into {field: column}."""
    mapping = {}
    for pair in (text or "").split(","):
        if not pair.strip():
            continue
        column, sep, field = pair.partition("=")
        column, field = column.strip(), field.strip()
        if not sep or not column or field not in FIELDS:
            raise CsvFormatError(f"--map: {pair.strip()!r} is not column=field with a field "
                                 f"among {', '.join(FIELDS)}")
        mapping[field] = column
    return mapping


def read_incident_csv(path, mapping=None, *, jurisdiction=None, progress=None):
    """Read an export into arrays; ``progress(rows_read)`` is called every 10,000 rows."""
    with _open(path) as handle:
        header = handle.readline()
        # the header's commonest separator: spreadsheets in many locales write ';', some tabs
        separator = max(SEPARATORS, key=header.count)
        reader = csv.DictReader(itertools.chain([header], handle), delimiter=separator)
        columns = _columns(reader.fieldnames or [], mapping or {})
        times, lats, lons, offenses, ucrs = [], [], [], [], []
        parse = _Times().epoch
        for n, row in enumerate(reader, start=1):
            times.append(parse(_cell(row, columns["reported_at"])))
            lats.append(_number(_cell(row, columns["latitude"])))
            lons.append(_number(_cell(row, columns["longitude"])))
            offenses.append(_cell(row, columns["offense"]))
            ucrs.append(_number(_cell(row, columns["ucr"])))
            if progress is not None and n % PROGRESS_EVERY == 0:
                progress(n)
    times, lats, lons = (np.array(v, dtype=float) for v in (times, lats, lons))
    problems = position_problems(lats, lons)
    problems[~np.isfinite(times)] = NO_TIME
    if jurisdiction is not None and jurisdiction.configured:
        usable = problems == None  # noqa: E711 (element-wise)
        outside = np.zeros(lats.size, dtype=bool)
        outside[usable] = ~jurisdiction.contains(lats[usable], lons[usable])
        problems[outside] = OUTSIDE
    keep = problems == None  # noqa: E711
    reasons, counts = np.unique(problems[~keep].astype(str), return_counts=True)
    offense = np.array(offenses, dtype=object)[keep].astype(str)
    return IncidentRows(
        incidents=Incidents(lats[keep], lons[keep], times[keep], offense),
        offense=offense, ucr=np.array(ucrs, dtype=float)[keep], rows_read=len(times),
        rejected={str(r): int(c) for r, c in sorted(zip(reasons, counts, strict=True),
                                                    key=lambda rc: -rc[1])})


def _open(path):
    raw = open(path, "rb")  # noqa: SIM115 (wrapped and closed by the caller's with)
    gzipped = raw.read(2) == b"\x1f\x8b"
    raw.seek(0)
    binary = gzip.GzipFile(fileobj=raw) if gzipped else raw
    return io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")


def _columns(header, mapping):
    present = {name.strip(): name for name in header}
    usual = {}
    for name in header:  # the first of two names that read the same wins
        usual.setdefault(_usual_name(name), name)
    columns = {}
    for field in FIELDS:
        if field in mapping:
            wanted, found = [mapping[field]], present.get(mapping[field].strip())
        else:
            wanted = USUAL_COLUMNS[field]
            found = next((usual[c] for c in wanted if c in usual), None)
        if found is None and (field in REQUIRED or field in mapping):
            raise CsvFormatError(f"the file has no column for {field} (tried "
                                 f"{', '.join(wanted)}; its columns: {', '.join(present)}); "
                                 f"name it with --map COLUMN={field}")
        columns[field] = found
    return columns


def _usual_name(name):
    return "_".join(name.strip().lower().replace("-", " ").split())


def _cell(row, column):
    value = row.get(column) if column is not None else None
    return value.strip() if isinstance(value, str) else ""


def _number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return float("nan")


class _Times:
    """Epoch seconds of the time texts of one file, in ISO 8601 or a usual export format.

    ISO 8601 first (naive means UTC; ``+00`` accepted); else the ``EXPORT_TIME_FORMATS``,
    the one that read the file's last time tried first, so a file in one format costs one
    attempt per row. Unreadable texts, and times before 1970 or after 9999-12-30 (what the
    database keeps), are NaN.
    """

    def __init__(self):
        self.formats = list(EXPORT_TIME_FORMATS)

    def epoch(self, text):
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            moment = self._by_format(text)
            if moment is None:
                return float("nan")
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        epoch = moment.timestamp()
        return epoch if 0 <= epoch <= LATEST_EPOCH else float("nan")

    def _by_format(self, text):
        for position, time_format in enumerate(self.formats):
            try:
                moment = datetime.strptime(text, time_format)
            except ValueError:
                continue
            if position:
                self.formats.insert(0, self.formats.pop(position))
            return moment
        return None
