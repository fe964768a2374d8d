"""The simulated world: a fleet of pumps and compressors whose components wear and fail.

Owns the fleet (:mod:`~assetwatch.sim.fleet`), the catalogue of simulated asset models
(:mod:`~assetwatch.sim.catalogue`, ``catalogue.json``), the component lives
(:mod:`~assetwatch.sim.lifecycle`), the readings and events they produce
(:mod:`~assetwatch.sim.simulator`, a replayable source of the edge agent; :mod:`~assetwatch.
sim.site` builds one from the agent's configuration) and the ground truth that scores
the pipeline (:mod:`~assetwatch.sim.truth`).

Standard library only, like the edge agent, which loads the simulator as a source plug-in by
name (``assetwatch.sim.site:SimulatedSite``) without importing this package. Only ``sim/``
and ``bench/`` read the ground truth; the product learns about the fleet only from what it
streams and from master data.
"""
