"""Travel between places: great-circle distance, a road factor and a speed.

>>> round(distance_km((48.0, 11.0), (48.0, 12.0)), 1)
74.4
>>> travel_minutes((48.0, 11.0), (48.0, 12.0), speed_kmh=60.0, road_factor=1.0)
74
"""

from __future__ import annotations

from math import asin, cos, radians, sin, sqrt

__all__ = ["EARTH_RADIUS_KM", "Place", "distance_km", "travel_minutes"]

EARTH_RADIUS_KM = 6371.0
#: (latitude, longitude) in degrees
Place = tuple[float, float]


def distance_km(a: Place, b: Place) -> float:
    """Great-circle (haversine) distance between two places."""
    lat1, lon1, lat2, lon2 = map(radians, (*a, *b))
    h = sin((lat2 - lat1) / 2) ** 2 + cos(lat1) * cos(lat2) * sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * asin(min(1.0, sqrt(h)))


def travel_minutes(a: Place, b: Place, *, speed_kmh: float, road_factor: float = 1.3) -> int:
    """Whole minutes to drive from ``a`` to ``b``: distance x road factor at ``speed_kmh``."""
    return round(distance_km(a, b) * road_factor / speed_kmh * 60)
