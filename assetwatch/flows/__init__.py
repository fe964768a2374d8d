"""Prefect flows: thin flows over plain functions that tests call directly."""
