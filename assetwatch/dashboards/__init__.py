"""Grafana dashboards and their provisioning as code, and the push to a running Grafana.

Reads only the ``v_*`` views (through :mod:`assetwatch.core`); its sibling
:mod:`assetwatch.report` renders the same views as a static page.
"""
