"""ABC classes by expected usage value and the service level of each class."""

from __future__ import annotations

import numpy as np
import pytest

from assetwatch.service.service_levels import ServiceLevels, usage_classes


def test_classes_split_the_usage_value_at_the_shares() -> None:
    # total 100: the first key holds 70 (A), the next brings the value before it to 70 (A,
    # below 80 %), then 90 (B, below 95 %), then 96 and 98 (C); no usage is always C
    value = np.array([2.0, 70.0, 20.0, 6.0, 2.0, 0.0])
    assert list(usage_classes(value)) == ["C", "A", "A", "B", "C", "C"]
    assert list(usage_classes(value, a_share=0.5, b_share=0.5)) == [
        "C", "A", "C", "C", "C", "C"]
    assert list(usage_classes(np.zeros(3))) == ["C", "C", "C"]
    assert list(usage_classes(np.array([np.nan, 5.0]))) == ["C", "A"]


def test_levels_per_class_and_validation() -> None:
    levels = ServiceLevels(a=0.9, b=0.95, c=0.99)
    assert list(levels.of(np.array(["A", "B", "C"], dtype=object))) == [0.9, 0.95, 0.99]
    assert ServiceLevels.single(0.97) == ServiceLevels(a=0.97, b=0.97, c=0.97)
    with pytest.raises(ValueError, match="class C must be in"):
        ServiceLevels(c=1.0)
    with pytest.raises(ValueError, match="a_share <= b_share"):
        ServiceLevels(a_share=0.9, b_share=0.8)


def test_parse_and_label() -> None:
    assert ServiceLevels.parse("0.97") == ServiceLevels.single(0.97)
    tiered = ServiceLevels.parse("0.95/0.98/0.995")
    assert (tiered.a, tiered.b, tiered.c) == (0.95, 0.98, 0.995)
    assert ServiceLevels.parse(tiered.label()) == tiered and tiered.label() == "0.95/0.98/0.995"
    for bad, match in (("x", "give one number or three"), ("0.9/0.95", "not 2"),
                       ("0.9/0.95/1.2", "class C must be in")):
        with pytest.raises(ValueError, match=match):
            ServiceLevels.parse(bad)
