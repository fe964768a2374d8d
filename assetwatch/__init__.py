"""assetwatch: remote asset monitoring and predictive maintenance.

Importing this package is cheap and pulls in no server-side dependency, so the edge agent
(``assetwatch.edge_agent``) can run with paho-mqtt and the standard library alone.
"""

__version__ = "0.1.0"
