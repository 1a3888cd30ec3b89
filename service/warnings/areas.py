"""Who is inside a warning's area: by division code (a county's code covers its towns) or
by geometry (a recipient's polygon or circle meeting the warning's).

Codes follow GB/T 2260: 330000 is a province, 330100 a city in it, 330102 a district of
that city; township and village codes (9 and 12 digits) begin with their county's six.
A code therefore covers every code that starts with its significant prefix, and nothing
above it: a warning for a county never reaches someone registered for the whole city.

Geometry is WGS-84 longitude/latitude. Circles are measured on the sphere (haversine),
so a 10 km circle is 10 km wide in Hainan and in Heilongjiang alike. Shapes crossing the
antimeridian are not handled: no Chinese area does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import shapely
from shapely.geometry import Polygon as ShapelyPolygon
from shapely.prepared import PreparedGeometry, prep

from service.warnings.models import Area, Circle, Point, Polygon

EARTH_RADIUS_KM = 6371.0088  # the mean radius (IUGG), what haversine distances assume
CIRCLE_SIDES = 64
# The polygon standing in for a circle is drawn around it rather than inside it, so that
# an intersection test errs towards warning one recipient too many, never one too few.
_CIRCUMSCRIBE = 1 / math.cos(math.pi / CIRCLE_SIDES)
# Longitude degrees shrink towards the poles; below this cosine (about 89.4°) a circle's
# polygon would be absurdly wide, so the correction stops growing there.
_MIN_COS_LAT = 0.01
# Significant prefix lengths a code can have: province, city, county, township, village.
PREFIX_LENGTHS = (2, 4, 6, 9, 12)


def code_prefix(code: str) -> str:
    """The digits that matter in a GB/T 2260 code: 330000 → 33, 330100 → 3301,
    330102 → 330102, 330102001000 → 330102001."""
    while len(code) > 6 and code.endswith("000"):
        code = code[:-3]
    if len(code) == 6:
        while len(code) > 2 and code.endswith("00"):
            code = code[:-2]
    return code


def code_covers(area_code: str, place_code: str) -> bool:
    """Whether `area_code` covers `place_code`: itself, and everything below it."""
    return place_code.startswith(code_prefix(area_code))


def haversine_km(a: Point, b: Point) -> float:
    """The great-circle distance between two points, in kilometres."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat = lat2 - lat1
    dlon = math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def circle_polygon(circle: Circle, sides: int = CIRCLE_SIDES) -> ShapelyPolygon:
    """A polygon in degrees (lon, lat) drawn around a circle, for intersection tests."""
    centre = circle.centre
    radius_deg = math.degrees(circle.radius_km * _CIRCUMSCRIBE / EARTH_RADIUS_KM)
    lon_scale = 1 / max(math.cos(math.radians(centre.lat)), _MIN_COS_LAT)
    ring = []
    for step in range(sides):
        angle = 2 * math.pi * step / sides
        lat = centre.lat + radius_deg * math.cos(angle)
        lon = centre.lon + radius_deg * math.sin(angle) * lon_scale
        ring.append((lon, max(-90.0, min(90.0, lat))))
    return ShapelyPolygon(ring)


def polygon_shape(polygon: Polygon) -> shapely.Geometry:
    """A CAP polygon as shapely sees it (lon, lat), repaired if it crosses itself."""
    shape = ShapelyPolygon([(p.lon, p.lat) for p in polygon.points])
    return shape if shape.is_valid else shapely.make_valid(shape)


def _circles_meet(a: Circle, b: Circle) -> bool:
    return haversine_km(a.centre, b.centre) <= a.radius_km + b.radius_km


def _place_geometries(place: Area) -> list[tuple[shapely.Geometry, Circle | None]]:
    """A place's shapes for intersection tests, each with the circle it stands for."""
    shapes: list[tuple[shapely.Geometry, Circle | None]] = [
        (polygon_shape(p), None) for p in place.polygons
    ]
    shapes.extend((circle_polygon(c), c) for c in place.circles)
    return shapes


class AreaShape:
    """An area's geometry, built once: polygons and circles ready for many tests."""

    def __init__(self, area: Area) -> None:
        self.area = area
        self.polygons: list[PreparedGeometry] = [prep(polygon_shape(p)) for p in area.polygons]
        self.circles: list[Circle] = list(area.circles)
        self._circle_polygons = [prep(circle_polygon(c)) for c in area.circles]

    @property
    def has_geometry(self) -> bool:
        return bool(self.polygons or self.circles)

    def covers_point(self, point: Point) -> bool:
        """Whether the point lies in one of the polygons (edges included) or circles."""
        if any(haversine_km(c.centre, point) <= c.radius_km for c in self.circles):
            return True
        spot = shapely.Point(point.lon, point.lat)
        return any(p.covers(spot) for p in self.polygons)

    def intersects_area(self, other: Area) -> bool:
        """Whether another area's polygons or circles meet this one's (codes play no part).

        Two circles are compared exactly, by the distance of their centres; anything
        involving a polygon uses the circle's 64-sided stand-in.
        """
        for shape, circle in _place_geometries(other):
            if any(p.intersects(shape) for p in self.polygons):
                return True
            for mine, mine_polygon in zip(self.circles, self._circle_polygons, strict=True):
                if circle is not None:
                    if _circles_meet(mine, circle):
                        return True
                elif mine_polygon.intersects(shape):
                    return True
        return False


def area_reaches(warning_area: Area, place: Area) -> bool:
    """Whether a warning for `warning_area` reaches someone at `place`: one of the place's
    codes is covered by one of the warning's, or the place's polygons or circles meet the
    warning's. A place known only by codes is never matched by geometry."""
    if any(code_covers(a, p) for a in warning_area.codes for p in place.codes):
        return True
    if not (place.polygons or place.circles):
        return False
    return AreaShape(warning_area).intersects_area(place)


def areas_reach(warning_areas: Iterable[Area], place: Area) -> bool:
    """Whether any of a warning's areas reaches `place`."""
    return any(area_reaches(area, place) for area in warning_areas)


class AreaMatcher:
    """A warning's areas made ready to test many places: the code prefixes in a set and
    the shapes in an R-tree, so each place costs a few set lookups and a tree query.

    It answers as `areas_reach` does, for the same areas.
    """

    def __init__(self, warning_areas: Iterable[Area]) -> None:
        self.areas = list(warning_areas)
        self.prefixes: frozenset[str] = frozenset(
            code_prefix(code) for area in self.areas for code in area.codes
        )
        self._prefix_lengths = tuple(
            n for n in PREFIX_LENGTHS if any(len(p) == n for p in self.prefixes)
        )
        shapes: list[shapely.Geometry] = []
        self._circles: list[Circle | None] = []  # the circle each shape stands for, if any
        for area in self.areas:
            for polygon in area.polygons:
                shapes.append(polygon_shape(polygon))
                self._circles.append(None)
            for circle in area.circles:
                shapes.append(circle_polygon(circle))
                self._circles.append(circle)
        self._tree = shapely.STRtree(shapes) if shapes else None

    def reaches_code(self, code: str) -> bool:
        """Whether a place with this division code is inside the warning's codes."""
        prefixes = self.prefixes
        return any(code[:n] in prefixes for n in self._prefix_lengths if n <= len(code))

    def reaches(self, place: Area) -> bool:
        """Whether the warning reaches someone at `place` (see `area_reaches`)."""
        if self._prefix_lengths and any(self.reaches_code(code) for code in place.codes):
            return True
        if self._tree is None or not (place.polygons or place.circles):
            return False
        for shape, circle in _place_geometries(place):
            for index in self._tree.query(shape, predicate="intersects"):
                mine = self._circles[int(index)]
                # Both circles: their polygons meeting is only a hint; the distance decides.
                if mine is None or circle is None or _circles_meet(mine, circle):
                    return True
        return False
