"""Operating the fleet: remote configuration from the server, alerts that reach people.

Owns the desired configuration of each edge agent and its publication
(:mod:`.remote_config`), and the commands that drive it (``assetwatch edge config``).
"""
