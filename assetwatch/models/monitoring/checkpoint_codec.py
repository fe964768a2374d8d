"""How a detection state is stored in a checkpoint: a pickle that restores objects attribute by
attribute, so a restored state runs as fast as a new one.

CPython keeps the attributes of an object made by its class in a compact layout that attribute
lookups are specialised for. The default pickle restores an object by writing into its
``__dict__``, which turns that layout into a plain dictionary for good: an asset state restored
from a checkpoint scored about a third slower than the same state never pickled (measured on
the ``baseline`` detector with operating states and alarm events, CPython 3.11), and a
detection worker keeps the states it restored for as long as it runs.

:func:`dumps` therefore pickles the classes a state is made of (the asset state, its event
tracker and events, the operating states, the regime detector, every registered detector and
the score calibrator, where they have no pickling of their own) as their class and attributes,
restored by :func:`_set_attributes` with ``object.__setattr__`` (which also works for frozen
dataclasses); everything else pickles as usual. :func:`loads` reads these pickles and plain
ones (checkpoints written before) alike. The restoring function is named in every checkpoint:
keep its module path and name.

Restored attribute names are interned (:func:`_set_attributes`): unpickled names are new
strings, and an object that keeps its attributes in a dictionary of its own (more of them than
the shared layout holds, as ``BaselineDeviation``) then compared strings on every lookup.

Pickling reads an object's ``__dict__`` as well, so a state kept in memory runs a little
slower once it has been checkpointed: with the names interned, a few per cent against the copy
:func:`loads` restores (``ensemble``: about 0.1 us of 13 us per sample, 8 sensors, CPython
3.11), while restoring costs about 45 us per state, more than that saves over the at most
~200 samples per asset of a detection round. The detection worker therefore keeps the states
it pickled.
"""

from __future__ import annotations

import copyreg
import io
import pickle
import sys
from functools import cache
from typing import Any

__all__ = ["dumps", "loads"]

#: ``cls.__new__(cls)``, which pickle writes as its compact NEWOBJ opcode (not in typeshed)
_NEWOBJ = getattr(copyreg, "__newobj__")  # noqa: B009


def _set_attributes(obj: object, attributes: dict[str, Any]) -> None:
    """Restore ``obj``'s attributes one by one (the pickle's state setter), by their interned
    names.

    Unpickled names are new strings, not the interned ones the code looks attributes up by.
    Where an object keeps its attributes in a dictionary of its own (a class with more
    attributes than CPython's shared layout holds, 30 in 3.11), every lookup of a key stored
    as another string compares the strings instead of the pointers.
    """
    for name, value in attributes.items():
        object.__setattr__(obj, sys.intern(name), value)


def _reduce(obj: object) -> tuple[Any, ...]:
    return _NEWOBJ, (type(obj),), obj.__dict__, None, None, _set_attributes


def _attributes_only(cls: type) -> bool:
    """True for a class whose instances are plain attributes: a ``__dict__``, no slots with
    values, no pickling of their own."""
    slots = {name for klass in cls.__mro__ for name in klass.__dict__.get("__slots__", ())}
    return (cls.__reduce_ex__ is object.__reduce_ex__ and cls.__reduce__ is object.__reduce__
            and cls.__getstate__ is object.__getstate__ and not hasattr(cls, "__setstate__")
            and not slots - {"__dict__", "__weakref__"})


@cache
def _dispatch_table() -> dict[type, Any]:
    from assetwatch.models.detectors import DETECTORS
    from assetwatch.models.detectors.calibration import TailCalibrator
    from assetwatch.models.detectors.operating import OperatingStates
    from assetwatch.models.detectors.regimes import RegimeDetector
    from assetwatch.models.monitoring.asset_state import AssetState
    from assetwatch.models.monitoring.events import EventRecord, EventTracker

    classes = [AssetState, EventTracker, EventRecord, RegimeDetector, OperatingStates,
               TailCalibrator, *DETECTORS.values()]
    table = dict(copyreg.dispatch_table)
    table.update({cls: _reduce for cls in classes if _attributes_only(cls)})
    return table


def dumps(state: object) -> bytes:
    """Pickle a detection state for a checkpoint (highest protocol)."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _dispatch_table()
    pickler.dump(state)
    return buffer.getvalue()


def loads(payload: bytes) -> Any:
    """Restore a detection state from a checkpoint written by :func:`dumps` or plain pickle."""
    return pickle.loads(payload)
