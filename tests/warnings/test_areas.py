"""Who is inside a warning's area: division codes by hierarchy, polygons and circles."""

from __future__ import annotations

import math
import time

import pytest

from service.warnings.areas import (
    EARTH_RADIUS_KM,
    AreaMatcher,
    AreaShape,
    area_reaches,
    areas_reach,
    code_covers,
    code_prefix,
    haversine_km,
)
from service.warnings.models import Area, Circle, Point, Polygon


def destination(start: Point, km: float, bearing_deg: float) -> Point:
    """The point `km` from `start` along a great circle (the spherical direct problem)."""
    lat1, lon1 = math.radians(start.lat), math.radians(start.lon)
    bearing, angle = math.radians(bearing_deg), km / EARTH_RADIUS_KM
    lat2 = math.asin(
        math.sin(lat1) * math.cos(angle) + math.cos(lat1) * math.sin(angle) * math.cos(bearing)
    )
    lon2 = lon1 + math.atan2(
        math.sin(bearing) * math.sin(angle) * math.cos(lat1),
        math.cos(angle) - math.sin(lat1) * math.sin(lat2),
    )
    return Point(lat=math.degrees(lat2), lon=math.degrees(lon2))


def square(south: float, west: float, north: float, east: float) -> Polygon:
    corners = [(south, west), (south, east), (north, east), (north, west), (south, west)]
    return Polygon(points=[Point(lat=lat, lon=lon) for lat, lon in corners])


def codes(*values: str) -> Area:
    return Area(codes=list(values))


def test_code_prefix_strips_the_levels_below() -> None:
    """Province, city, county, township and village codes keep only their own digits."""
    assert code_prefix("330000") == "33"
    assert code_prefix("330100") == "3301"
    assert code_prefix("330102") == "330102"
    assert code_prefix("330102001") == "330102001"
    assert code_prefix("330102001000") == "330102001"
    assert code_prefix("330102000") == "330102"
    assert code_prefix("330100000000") == "3301"


def test_a_code_covers_what_is_below_it_never_what_is_above() -> None:
    """County covers its towns, city its counties, province its cities; not the reverse."""
    assert code_covers("330102", "330102001")
    assert code_covers("330102", "330102001002")
    assert code_covers("330100", "330102")
    assert code_covers("330000", "330102001")
    assert code_covers("330102", "330102")
    assert not code_covers("330102001", "330102")
    assert not code_covers("330102", "330100")
    assert not code_covers("330100", "330000")


def test_neighbouring_divisions_do_not_reach_each_other() -> None:
    """Two districts of one city, two cities of one province: neither covers the other."""
    assert not code_covers("330102", "330103")
    assert not code_covers("330102", "330103001")
    assert not code_covers("330100", "330200")
    assert not area_reaches(codes("330102"), codes("330103", "330200"))
    assert area_reaches(codes("330102"), codes("330103", "330102005"))


@pytest.mark.parametrize("latitude", [30.0, 60.0])
@pytest.mark.parametrize("bearing", [0.0, 90.0, 225.0])
def test_a_circle_is_measured_in_kilometres_at_any_latitude(
    latitude: float, bearing: float
) -> None:
    """9 km from the centre is inside a 10 km circle, 11 km outside, north or east."""
    centre = Point(lat=latitude, lon=120.0)
    shape = AreaShape(Area(circles=[Circle(centre=centre, radius_km=10)]))
    assert shape.covers_point(destination(centre, 9, bearing))
    assert not shape.covers_point(destination(centre, 11, bearing))
    assert haversine_km(centre, destination(centre, 9, bearing)) == pytest.approx(9, rel=1e-6)


def test_a_polygon_covers_its_inside_and_its_edge() -> None:
    """A point inside or on the edge is covered; one outside is not."""
    shape = AreaShape(Area(polygons=[square(30.0, 120.0, 30.5, 120.5)]))
    assert shape.covers_point(Point(lat=30.2, lon=120.3))
    assert shape.covers_point(Point(lat=30.0, lon=120.3))
    assert not shape.covers_point(Point(lat=30.6, lon=120.3))


def test_places_with_shapes_are_reached_when_they_meet_the_warning() -> None:
    """Polygon against polygon, polygon against circle, circle against circle."""
    warning = Area(polygons=[square(30.0, 120.0, 30.5, 120.5)])
    overlapping = Area(polygons=[square(30.4, 120.4, 30.8, 120.8)])
    apart = Area(polygons=[square(31.0, 121.0, 31.5, 121.5)])
    assert area_reaches(warning, overlapping)
    assert not area_reaches(warning, apart)
    # A 5 km circle centred 3 km north of the polygon's top edge reaches into it.
    edge = Point(lat=30.5, lon=120.25)
    assert area_reaches(
        warning, Area(circles=[Circle(centre=destination(edge, 3, 0), radius_km=5)])
    )
    assert not area_reaches(
        warning, Area(circles=[Circle(centre=destination(edge, 8, 0), radius_km=5)])
    )
    centre = Point(lat=60.0, lon=25.0)
    warning_circle = Area(circles=[Circle(centre=centre, radius_km=10)])
    near = Circle(centre=destination(centre, 14, 90), radius_km=5)
    far = Circle(centre=destination(centre, 16, 90), radius_km=5)
    assert area_reaches(warning_circle, Area(circles=[near]))
    assert not area_reaches(warning_circle, Area(circles=[far]))


def test_a_place_known_only_by_codes_is_not_matched_by_geometry() -> None:
    """A warning with a polygon and no codes reaches no one registered by code alone."""
    warning = Area(polygons=[square(30.0, 120.0, 30.5, 120.5)])
    assert not area_reaches(warning, codes("330102"))
    both = Area(codes=["330102"], polygons=[square(30.0, 120.0, 30.5, 120.5)])
    assert area_reaches(both, codes("330102001"))


def test_a_warning_of_several_areas_reaches_a_place_in_any_of_them() -> None:
    """areas_reach is true when one of the warning's areas reaches the place."""
    warning = [codes("330102"), Area(polygons=[square(30.0, 120.0, 30.5, 120.5)])]
    point = Area(circles=[Circle(centre=Point(lat=30.1, lon=120.1), radius_km=0.01)])
    assert areas_reach(warning, codes("330102003"))
    assert areas_reach(warning, point)
    assert not areas_reach(warning, codes("330103"))


def test_the_matcher_answers_as_area_reaches_does() -> None:
    """Codes, polygons and circles: the matcher and the one-off test agree place by place."""
    warnings = [
        codes("330100", "330212"),
        Area(polygons=[square(30.0, 120.0, 30.5, 120.5)]),
        Area(circles=[Circle(centre=Point(lat=29.0, lon=121.0), radius_km=10)]),
    ]
    places = [
        codes("330102001"),
        codes("330200"),
        codes("330212004"),
        codes("340100"),
        Area(polygons=[square(30.4, 120.4, 30.8, 120.8)]),
        Area(polygons=[square(31.0, 121.0, 31.5, 121.5)]),
        Area(circles=[Circle(centre=destination(Point(lat=29.0, lon=121.0), 12, 45), radius_km=3)]),
        Area(circles=[Circle(centre=destination(Point(lat=29.0, lon=121.0), 14, 45), radius_km=3)]),
        Area(codes=["340100"], circles=[Circle(centre=Point(lat=30.2, lon=120.2), radius_km=1)]),
    ]
    matcher = AreaMatcher(warnings)
    answers = [matcher.reaches(place) for place in places]
    assert answers == [areas_reach(warnings, place) for place in places]
    assert answers == [True, False, True, False, True, False, True, False, True]


def test_the_matcher_handles_a_hundred_thousand_places_quickly() -> None:
    """A sanity bound, not the benchmark: 100,000 code-only places in under 2 seconds."""
    matcher = AreaMatcher([codes("330102", "330200"), Area(polygons=[square(30, 120, 31, 121)])])
    places = [
        Area.model_construct(
            codes=[f"33{n % 100:02d}{n % 37:02d}{n % 999:03d}"], polygons=[], circles=[]
        )
        for n in range(100_000)
    ]
    started = time.perf_counter()
    reached = sum(matcher.reaches(place) for place in places)
    elapsed = time.perf_counter() - started
    assert elapsed < 2.0, f"{elapsed:.2f} s for 100,000 places"
    assert reached == sum(p.codes[0].startswith(("330102", "3302")) for p in places)
