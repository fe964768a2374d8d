"""The simulated fleet: sites, assets of the catalogue's models and their installed components.

:func:`build_fleet` is a pure function of its arguments (same seed, same fleet), so the server
side can register exactly the assets the simulator will stream. Standard library only.

Examples
--------
>>> from datetime import datetime, timezone
>>> fleet = build_fleet(2, 3, seed=7, start=datetime(2026, 1, 1, tzinfo=timezone.utc))
>>> [s.site_id for s in fleet.sites]
['site-01', 'site-02']
>>> fleet.assets[0].asset_tag, len(fleet.assets)
('S01-P001', 6)
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

from assetwatch.sim.catalogue import load_catalogue

__all__ = [
    "Fleet", "FleetAsset", "FleetSite", "InstalledComponent", "build_fleet", "epoch_ms",
    "from_epoch_ms",
]

_SITE_NAMES = (
    "Riverside Water Works", "North Harbour Terminal", "Eastfield Chemicals", "Valley Brewery",
    "Westport Refinery", "Hillcrest Mine", "Lakeside Paper Mill", "Southgate Pharma",
    "Ironbridge Steel", "Meadow Dairy", "Baycity Desalination", "Pinewood Pulp",
)
_CUSTOMERS = ("Aqua Utilities", "Portline Logistics", "Chemco", "Brewmasters", "Petrolux",
              "Oreline Mining", "Fibreworks", "Medica")
_TAG_LETTER = {"centrifugal_pump": "P", "screw_compressor": "C"}


class FleetSite(NamedTuple):
    """A customer site: ``(site_id, name, customer, sla_hours)``."""

    site_id: str
    name: str
    customer: str
    sla_hours: int


class InstalledComponent(NamedTuple):
    """A component installed in an asset at the fleet's start."""

    component_type: str
    serial_no: str
    part_no: str
    installed_at: datetime


@dataclass(frozen=True)
class FleetAsset:
    """One asset (device): its tag is its MQTT user name and its topic level."""

    asset_tag: str
    site_id: str
    model_id: str
    serial_no: str
    commissioned_on: date
    criticality: int
    sensors: tuple[tuple[str, str], ...]  # (name, unit), in catalogue order
    components: tuple[InstalledComponent, ...]
    index: int  # position in the fleet, for deterministic per-asset random streams


@dataclass(frozen=True)
class Fleet:
    """Sites and assets of a simulated fleet, starting at ``start`` (UTC)."""

    sites: tuple[FleetSite, ...]
    assets: tuple[FleetAsset, ...]
    seed: int
    start: datetime

    def asset(self, asset_tag: str) -> FleetAsset:
        """The asset with this tag (``KeyError`` if the fleet has none)."""
        for a in self.assets:
            if a.asset_tag == asset_tag:
                return a
        raise KeyError(asset_tag)

    def models(self) -> list[tuple[str, str, str]]:
        """``(model_id, kind, description)`` of the models the fleet uses."""
        catalogue = load_catalogue()["asset_models"]
        used = sorted({a.model_id for a in self.assets})
        return [(m, catalogue[m]["kind"], catalogue[m].get("description", "")) for m in used]

    def devices(self) -> list[tuple[str, str]]:
        """``(site_id, asset_tag)`` of every asset, for the broker's users and ACL."""
        return [(a.site_id, a.asset_tag) for a in self.assets]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the Unix epoch, exactly (integer arithmetic, no float rounding)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def from_epoch_ms(ms: int) -> datetime:
    """The UTC time ``ms`` milliseconds after the Unix epoch (inverse of :func:`epoch_ms`)."""
    return _EPOCH + timedelta(milliseconds=ms)


def component_serial(rng: random.Random, part_no: str) -> str:
    """A plausible serial number for a new part (deterministic for a seeded ``rng``)."""
    prefix = "".join(ch for ch in part_no.split("-")[0] if ch.isalnum())[:4]
    return f"{prefix}-{rng.getrandbits(40):010X}"


def initial_age_days(rng: random.Random, life_days: float, asset_age_days: float) -> float:
    """How old a component of this life is at the fleet's start.

    The installed base has history: the age is uniform over the component's life, so the
    remaining life of a component drawn from its Weibull law is seen mid-way, as in a fleet
    running for years, and failures already occur early in a simulated run. A part cannot be
    older than its asset: one drawn older is the original part, installed at commissioning.
    """
    return min(rng.uniform(0.0, life_days), asset_age_days)


def component_life_rng(seed: int, asset_tag: str, component_type: str, generation: int
                       ) -> random.Random:
    """The random stream of one generation of one component (life, age, serial, repair)."""
    return random.Random(f"{seed}/{asset_tag}/{component_type}/{generation}")


def build_fleet(sites: int, assets_per_site: int, seed: int, start: datetime) -> Fleet:
    """A fleet of ``sites`` sites with ``assets_per_site`` assets each.

    Asset tags are ``S<site>-<P|C><n>`` (``P`` pumps, ``C`` compressors), globally unique;
    site ids are ``site-01``, ...; about 60 % of assets are pumps. Components start at random
    ages consistent with their Weibull life (:func:`initial_age_days`).
    """
    if sites < 1 or assets_per_site < 1:
        raise ValueError("a fleet needs at least one site and one asset per site")
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    catalogue = load_catalogue()["asset_models"]
    model_ids = sorted(catalogue)
    pump = next(m for m in model_ids if catalogue[m]["kind"] == "centrifugal_pump")
    others = [m for m in model_ids if m != pump] or [pump]
    rng = random.Random(f"fleet/{seed}")
    fleet_sites: list[FleetSite] = []
    assets: list[FleetAsset] = []
    for s in range(1, sites + 1):
        site_id = f"site-{s:02d}"
        name = _SITE_NAMES[(s - 1) % len(_SITE_NAMES)]
        if s > len(_SITE_NAMES):
            name = f"{name} {s // len(_SITE_NAMES) + 1}"
        fleet_sites.append(FleetSite(site_id, name, rng.choice(_CUSTOMERS),
                                     rng.choice((24, 48, 72))))
        for n in range(1, assets_per_site + 1):
            model_id = pump if n == 1 or rng.random() < 0.6 else rng.choice(others)
            spec = catalogue[model_id]
            tag = f"S{s:02d}-{_TAG_LETTER.get(spec['kind'], 'A')}{n:03d}"
            commissioned = (start - timedelta(days=rng.uniform(400, 3000))).date()
            components = []
            for ctype, cspec in spec["components"].items():
                crng = component_life_rng(seed, tag, ctype, 0)
                life = crng.weibullvariate(cspec["weibull_eta_days"], cspec["weibull_beta"])
                age = initial_age_days(crng, life, (start.date() - commissioned).days)
                components.append(InstalledComponent(
                    ctype, component_serial(crng, cspec["part_no"]), cspec["part_no"],
                    start - timedelta(days=age)))
            assets.append(FleetAsset(
                asset_tag=tag, site_id=site_id, model_id=model_id,
                serial_no=f"{model_id}-{rng.getrandbits(32):08X}",
                commissioned_on=commissioned, criticality=rng.choice((1, 2, 2, 3)),
                sensors=tuple((name, sensor["unit"]) for name, sensor in spec["sensors"].items()),
                components=tuple(components), index=len(assets)))
    return Fleet(tuple(fleet_sites), tuple(assets), seed, start)
