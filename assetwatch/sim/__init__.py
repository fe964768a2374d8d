"""The simulated world: a fleet of pumps and compressors that behaves like installed equipment.

Every knob sits in one seeded configuration (:class:`~assetwatch.sim.world.WorldConfig`).
Owns the fleet (:mod:`~assetwatch.sim.fleet`), the catalogue of simulated asset models
(:mod:`~assetwatch.sim.catalogue`, ``catalogue.json``: datasheet lives, failure modes with
their parts), how assets operate (:mod:`~assetwatch.sim.operation`), the component lives
(:mod:`~assetwatch.sim.lifecycle`), sensor faults (:mod:`~assetwatch.sim.sensor_faults`), the
readings and events they produce (:mod:`~assetwatch.sim.simulator`, a replayable source of the
edge agent; :mod:`~assetwatch.sim.site` builds one from the agent's configuration) and the
ground truth that scores the pipeline (:mod:`~assetwatch.sim.truth`).

Standard library only, like the edge agent, which loads the simulator as a source plug-in by
name (``assetwatch.sim.site:SimulatedSite``) without importing this package. Only ``sim/``
and ``bench/`` read the ground truth; the product learns about the fleet only from what it
streams and from master data.
"""
