"""Operating the fleet: remote configuration from the server, alerts that reach people.

Owns the desired configuration of each edge agent and its publication
(:mod:`.remote_config`), the pipeline's own notifier of the alert rules (:mod:`.notifier`),
connectivity tickets for silent assets (:mod:`.connectivity`), and the commands that drive them
(``assetwatch edge config``, ``assetwatch alerts``).
"""
