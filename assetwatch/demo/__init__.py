"""``assetwatch demo``: the whole pipeline on a simulated fleet, on the local services.

One command runs every stage for real: a fleet of pumps and compressors is simulated at the
edge (components wear with Weibull lives, fail and are replaced), streamed through the edge
agent's spool over MQTT to Mosquitto, ingested exactly once into TimescaleDB, scored by the
streaming detectors, turned into failure predictions, parts demand, inventory policy and
service tickets by the Prefect flows, and shown as Grafana dashboards and an HTML report. The
summary at the end is read back from the database.
"""

from assetwatch.demo.commands import register

__all__ = ["register"]
