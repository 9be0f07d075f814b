"""Reading published exports: column mapping, dirty rows, far outliers, offence types."""

import gzip

import numpy as np
import pytest

from app.services.hotspots.cleaning import (
    NO_POSITION,
    NOT_WGS84,
    NULL_ISLAND,
    far_cells,
    position_problems,
)
from app.services.hotspots.grid import cells_of_points
from app.services.incident_csv import NO_TIME, CsvFormatError, parse_mapping, read_incident_csv
from app.services.incident_import import incident_type, severity_of, source_keys

HEADER = "dispatched_at,offense,ucr_general,latitude,longitude\n"


def test_position_problems_name_each_bad_row():
    lat = [39.95, np.nan, 0.0, 2_690_000.0, 0.0, 91.0]
    lon = [-75.16, -75.16, 0.0, 240_000.0, -75.16, 10.0]
    assert position_problems(lat, lon).tolist() == [
        None, NO_POSITION, NULL_ISLAND, NOT_WGS84, None, NOT_WGS84]


def test_far_cells_leave_out_a_stray_but_keep_the_suburbs():
    rng = np.random.default_rng(1)
    lat = np.r_[rng.normal(39.98, 0.05, 2000), 39.80, 42.22]  # a suburb 20 km out; Lake Erie
    lon = np.r_[rng.normal(-75.15, 0.05, 2000), -75.40, -80.50]
    cells, counts = np.unique(cells_of_points(lat, lon, 8), return_counts=True)
    far = far_cells(cells, counts)
    assert far.incidents == 1 and far.cells.tolist() == cells_of_points([42.22], [-80.50],
                                                                         8).tolist()
    assert "km from the incidents' median centre" in far.report()["reason"]
    assert far_cells(cells[:1], counts[:1]).report() is None


def test_reading_counts_every_rejected_row_and_maps_columns(tmp_path):
    path = tmp_path / "export.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("\ufeff" + HEADER)  # a byte-order mark, as spreadsheets write
        handle.write("2024-01-04 05:00:00+00,Thefts,600,39.95,-75.16\n")
        handle.write("2024-01-04T06:00:00Z,Thefts,600,,\n")
        handle.write("2024-01-05,Burglary Residential,500,0,0\n")
        handle.write("yesterday,Thefts,600,39.95,-75.16\n")
        handle.write("1850-01-01,Thefts,600,39.95,-75.16\n")
        handle.write("2024-01-06 10:00:00,Arson,900,39.96,-75.17,an extra field\n")
    rows = read_incident_csv(path)
    assert rows.rows_read == 6
    assert rows.rejected == {NO_TIME: 2, NO_POSITION: 1, NULL_ISLAND: 1}
    assert rows.offense.tolist() == ["Thefts", "Arson"]
    assert rows.incidents.reported_at.tolist() == [1704344400.0, 1704535200.0]  # naive = UTC
    assert rows.ucr.tolist() == [600.0, 900.0]


def test_times_in_the_usual_export_formats_are_read_as_iso_ones_are(tmp_path):
    """Portals write month-first times with AM/PM or slashes; naive times are UTC."""
    path = tmp_path / "export.csv"
    times = ["2024-01-04 17:30:00+00", "01/04/2024 05:30:00 PM", "01/04/2024 05:30 PM",
             "01/04/2024 17:30:00", "01/04/2024 17:30", "2024/01/04 05:30:00 PM",
             "2024/01/04 17:30:00", "2024/01/04 17:30", "2024-01-04 05:30:00 PM",
             "01/04/2024 12:00:00 AM", "01/04/2024", "2024/01/04",
             "13/01/2024", "04.01.2024 17:30", "01/04/2024 25:00"]  # last three unreadable
    path.write_text(HEADER + "".join(f"{t},Thefts,600,39.95,-75.16\n" for t in times))
    rows = read_incident_csv(path)
    at_1730, midnight = 1704389400.0, 1704326400.0
    assert rows.incidents.reported_at.tolist() == [at_1730] * 9 + [midnight] * 3
    assert rows.rejected == {NO_TIME: 3}


@pytest.mark.parametrize("separator", [";", "\t", "|"])
def test_semicolon_tab_and_bar_separated_files_read_as_comma_separated_ones(tmp_path,
                                                                          separator):
    lines = [HEADER.strip(), "2024-01-04 05:00:00+00,Thefts,600,39.95,-75.16",
             '2024-01-05 06:00:00+00,"Thefts, from a car",600,39.96,-75.17']
    comma = tmp_path / "comma.csv"
    comma.write_text("\n".join(lines) + "\n")
    other = tmp_path / "other.csv"
    other.write_text("\n".join(line.replace(",", separator).replace(
        f'"Thefts{separator} from a car"', '"Thefts, from a car"') for line in lines) + "\n")
    expected, got = read_incident_csv(comma), read_incident_csv(other)
    assert got.offense.tolist() == expected.offense.tolist() == ["Thefts",
                                                                 "Thefts, from a car"]
    assert got.incidents.reported_at.tolist() == expected.incidents.reported_at.tolist()
    assert got.incidents.lat.tolist() == [39.95, 39.96]


def test_usual_column_names_are_found_whatever_their_case_and_spacing(tmp_path):
    path = tmp_path / "portal.csv"
    path.write_text("ID,Date,Primary Type,LAT,Longitude\n"
                    "7,01/04/2024 05:30:00 PM,THEFT,39.95,-75.16\n")
    rows = read_incident_csv(path)
    assert rows.offense.tolist() == ["THEFT"]
    assert rows.incidents.reported_at.tolist() == [1704389400.0]
    assert (rows.incidents.lat.tolist(), rows.incidents.lon.tolist()) == ([39.95], [-75.16])


@pytest.mark.parametrize("header, row", [
    ("objectid,dc_dist,dispatch_date_time,dispatch_date,ucr_general,text_general_code,"
     "point_x,point_y,lat,lng",  # Philadelphia, as published
     "1,12,2024-01-04 17:30:00+00,2024-01-04,600,Thefts,-75.16,39.95,39.95,-75.16"),
    ("DR_NO,Date Rptd,DATE OCC,TIME OCC,Crm Cd,Crm Cd Desc,LAT,LON",  # Los Angeles
     "1,01/05/2024 12:00:00 AM,01/04/2024 05:30:00 PM,1730,330,THEFT,39.95,-75.16"),
    ("CMPLNT_NUM,CMPLNT_FR_DT,CMPLNT_FR_TM,OFNS_DESC,Latitude,Longitude",  # New York
     "1,01/04/2024 17:30,17:30:00,PETIT LARCENY,39.95,-75.16"),
    ("Incident Datetime,Incident Date,Incident Category,Latitude,Longitude",  # San Francisco
     "2024/01/04 05:30:00 PM,2024/01/04,Larceny Theft,39.95,-75.16"),
    ("INCIDENT_NUMBER,OFFENSE_DESCRIPTION,OCCURRED_ON_DATE,Lat,Long",  # Boston
     "1,LARCENY,2024-01-04 17:30:00+00,39.95,-75.16"),
    ("Offense ID,Offense Start DateTime,Report DateTime,Offense,Latitude,Longitude",
     "1,2024-01-04T17:30:00,2024-01-05T09:00:00,Theft,39.95,-75.16"),  # Seattle
    ("incident_id,offense_type_id,first_occurrence_date,reported_date,geo_x,geo_y,geo_lon,"
     "geo_lat",  # Denver (geo_x, geo_y: State Plane feet)
     "1,theft-other,1/4/2024 5:30:00 PM,1/5/2024 9:00:00 AM,3140000,1690000,-75.16,39.95"),
])
def test_city_portal_exports_are_read_without_a_mapping(tmp_path, header, row):
    path = tmp_path / "portal.csv"
    path.write_text(f"{header}\n{row}\n")
    rows = read_incident_csv(path)
    assert rows.rejected == {}
    assert rows.incidents.reported_at.tolist() == [1704389400.0]  # 2024-01-04 17:30 UTC
    assert (rows.incidents.lat.tolist(), rows.incidents.lon.tolist()) == ([39.95], [-75.16])
    assert rows.offense[0] != ""


def test_a_mapping_names_columns_the_reader_would_not_guess(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("when,what,y,x\n2024-03-01T12:00:00+01:00,Robbery,39.9,-75.1\n")
    with pytest.raises(CsvFormatError, match="no column for reported_at"):
        read_incident_csv(path)
    mapping = parse_mapping("when=reported_at, what=offense,y=latitude,x=longitude")
    rows = read_incident_csv(path, mapping)
    assert rows.incidents.reported_at.tolist() == [1709290800.0]
    assert rows.offense.tolist() == ["Robbery"]
    for bad in ("when", "when=time", "=latitude"):
        with pytest.raises(CsvFormatError):
            parse_mapping(bad)


@pytest.mark.parametrize(("offense", "kind"), [
    ("Burglary Residential", "burglary"), ("Robbery Firearm", "robbery"),
    ("Motor Vehicle Theft", "vehicle_theft"), ("Theft from Vehicle", "other"),
    ("Aggravated Assault No Firearm", "assault"), ("Homicide - Criminal", "assault"),
    ("Arson", "fire"), ("Vagrancy/Loitering", "suspicious_activity"), ("Thefts", "other"),
    ("Fraud", "other"),
])
def test_offences_map_to_incident_types(offense, kind):
    assert incident_type(offense) == kind


def test_severity_comes_from_the_ucr_code_else_the_type():
    assert severity_of("assault", 100.0) == 5 and severity_of("other", 600.0) == 2
    assert severity_of("robbery", float("nan")) == 4 and severity_of("other", np.nan) == 2


def test_identical_rows_get_distinct_keys_that_a_second_read_repeats(tmp_path):
    path = tmp_path / "export.csv"
    row = "2024-01-04 05:00:00+00,Thefts,600,39.95,-75.16\n"
    path.write_text(HEADER + row * 3)
    rows = read_incident_csv(path)
    keys = source_keys(rows.incidents, rows.offense)
    assert len(set(keys)) == 3 and all(len(k) == 64 for k in keys)
    assert source_keys(rows.incidents, rows.offense) == keys
