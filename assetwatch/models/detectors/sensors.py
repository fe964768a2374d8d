"""What a sensor's name says about how it behaves."""

from __future__ import annotations

__all__ = ["SLOW_SENSOR_NAMES", "is_slow_sensor"]

#: parts of sensor names that mark a slow (thermal) sensor
SLOW_SENSOR_NAMES = ("temp", "thermo")


def is_slow_sensor(name: str) -> bool:
    """True for a thermal sensor: its level follows load, ambient and the process with a lag
    of minutes (``bearing_temp``, ``Thermocouple``, ``oil_temperature``).

    >>> is_slow_sensor("Temperature"), is_slow_sensor("vibration")
    (True, False)
    """
    lowered = name.lower()
    return any(part in lowered for part in SLOW_SENSOR_NAMES)
