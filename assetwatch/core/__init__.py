"""Code shared by two or more stages: settings, database access, schema and wire format.

Only :mod:`assetwatch.core.wire` is safe to import on the edge (standard library only);
the other modules need the server-side dependencies.
"""
