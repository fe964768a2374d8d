"""Project-local services: a PostgreSQL cluster with TimescaleDB and a Mosquitto broker.

``assetwatch stack up|down|status`` runs them under ``ASSETWATCH_DATA_DIR`` on project ports,
so nothing on the machine needs reconfiguring. Users with their own servers set
``ASSETWATCH_MANAGE_SERVICES=false`` and point the settings at them.
"""
