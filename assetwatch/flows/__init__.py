"""Prefect flows: train, score, demand, tickets, housekeeping, and the pipeline of them.

Thin flows over plain functions of the other packages (tests call those directly); every
flow records its state changes for the pipeline-health dashboard (:mod:`.hooks`).
"""
