"""Project-local services: a PostgreSQL cluster with TimescaleDB and a Mosquitto broker.

``assetwatch stack up|down|status`` runs them under ``ASSETWATCH_DATA_DIR`` on project ports,
so nothing on the machine needs reconfiguring. Users with their own servers set
``ASSETWATCH_MANAGE_SERVICES=false`` and point the settings at them.

The broker is Mosquitto 2.1 built from Debian's source (:mod:`.broker_build`; Debian 12's
2.0.11 drops what devices publish between a broker restart and ingest's reconnection, and
can only save its state by rewriting it whole), with access rules that cover subscriptions
(:mod:`.broker_access`, enforced by the dynamic-security plugin), state saved on change and a
supervisor that restarts it (:mod:`.mosquitto`, :mod:`.supervise`). docs/architecture.md,
"The broker", has the measurements behind these choices.
"""
