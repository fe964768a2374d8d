"""Code shared by two or more stages: settings, database access, schema, contracts.

Owns the typed settings (:mod:`.settings`), database connections (:mod:`.db`), migrations,
the asset registry (:mod:`.asset_registry`), the installed base's one writer
(:mod:`.installed_base`) and its lock (:mod:`.locks`), and the contracts both sides of the
wire import: the wire format (:mod:`.wire`) and the source plug-in interface
(:mod:`.source`). Only those two are safe to import on the edge (standard library only);
the other modules need the server-side dependencies.
"""
