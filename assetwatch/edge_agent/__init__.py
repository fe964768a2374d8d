"""The edge agent: runs on a gateway at the customer site, streams telemetry over MQTT.

Runs with paho-mqtt and the standard library alone; must not import server-side packages.
"""
