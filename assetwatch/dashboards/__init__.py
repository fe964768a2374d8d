"""Grafana dashboards as code, provisioning files and the push command."""
