"""Service levels per ABC class of stocked (part, site) keys.

Spare-parts planners do not stock every part to the same service level: a missing 2-euro
O-ring stops a repair as surely as a missing motor, and holding a few more of it costs
nothing. The classic split ranks the keys by their expected usage value (expected units a
year times the unit cost): the keys that make up the first ``a_share`` of the total value
are class **A**, the next ones up to ``b_share`` class **B**, the rest (many cheap parts)
class **C**. Each class has its cycle service level; :class:`ServiceLevels` with the same
level for all three classes is a single service level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ServiceLevels", "usage_classes"]


@dataclass(frozen=True)
class ServiceLevels:
    """The cycle service level of each ABC class and the value shares that draw the classes."""

    a: float = 0.95
    b: float = 0.95
    c: float = 0.95
    a_share: float = 0.80
    b_share: float = 0.95

    def __post_init__(self) -> None:
        for name in ("a", "b", "c"):
            level = getattr(self, name)
            if not 0.5 <= level < 1.0:
                raise ValueError(f"service level of class {name.upper()} must be in [0.5, 1),"
                                 f" got {level}")
        if not 0.0 < self.a_share <= self.b_share <= 1.0:
            raise ValueError("class shares must satisfy 0 < a_share <= b_share <= 1, got"
                             f" {self.a_share} and {self.b_share}")

    @classmethod
    def single(cls, level: float) -> ServiceLevels:
        """The same ``level`` for every class."""
        return cls(a=level, b=level, c=level)

    @classmethod
    def coerce(cls, level: float | ServiceLevels) -> ServiceLevels:
        """``level`` as it is, or one number as :meth:`single`."""
        return level if isinstance(level, ServiceLevels) else cls.single(level)

    @classmethod
    def parse(cls, text: str) -> ServiceLevels:
        """``"0.95"`` (every class) or ``"0.95/0.98/0.995"`` (classes A/B/C); ValueError
        naming what is wrong."""
        parts = [p.strip() for p in text.split("/")]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise ValueError(f"service level {text!r}: give one number or three as A/B/C"
                             " (for example 0.95/0.98/0.995)") from None
        if len(values) == 1:
            return cls.single(values[0])
        if len(values) != 3:
            raise ValueError(f"service level {text!r}: give one number or three as A/B/C,"
                             f" not {len(values)}")
        return cls(a=values[0], b=values[1], c=values[2])

    def label(self) -> str:
        """The form :meth:`parse` reads."""
        if self.a == self.b == self.c:
            return f"{self.a:g}"
        return f"{self.a:g}/{self.b:g}/{self.c:g}"

    def classes(self, usage_value: np.ndarray) -> np.ndarray:
        """The ABC class of each key by its usage value, at these shares
        (:func:`usage_classes`)."""
        return usage_classes(usage_value, a_share=self.a_share, b_share=self.b_share)

    def of(self, classes: np.ndarray) -> np.ndarray:
        """The service level of each key of ``classes`` (``"A"``, ``"B"`` or ``"C"``)."""
        return np.select([classes == "A", classes == "B"], [self.a, self.b], self.c)


def usage_classes(usage_value: np.ndarray, *, a_share: float = 0.80,
                  b_share: float = 0.95) -> np.ndarray:
    """ABC class per key from its expected usage value a year.

    Keys in descending value order are A while the cumulative value *before* them is below
    ``a_share`` of the total (so the most valuable key is always A), B while it is below
    ``b_share``, else C. Keys with no expected usage are C; with no usage at all every key
    is C.
    """
    value = np.clip(np.nan_to_num(np.asarray(usage_value, dtype=float)), 0.0, None)
    out = np.full(len(value), "C", dtype=object)
    total = value.sum()
    if total <= 0:
        return out
    order = np.argsort(-value, kind="stable")
    before = (np.cumsum(value[order]) - value[order]) / total
    ranked = np.where(before < a_share, "A", np.where(before < b_share, "B", "C"))
    ranked[value[order] <= 0] = "C"
    out[order] = ranked
    return out
