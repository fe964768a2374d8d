"""One default detector: the service, offline scoring and the benches run the same one."""

from __future__ import annotations

import argparse
import inspect

from assetwatch.bench import detect as detect_bench
from assetwatch.models import commands
from assetwatch.models.detectors import DEFAULT_DETECTOR, make_detector
from assetwatch.models.monitoring import offline, worker


def _defaults(register) -> dict[str, str]:
    """The ``--detector`` default of every subcommand ``register`` adds."""
    root = argparse.ArgumentParser()
    register(root.add_subparsers())
    out = {}
    stack = [("", root)]
    while stack:
        name, parser = stack.pop()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                stack.extend(action.choices.items())
            elif "--detector" in action.option_strings:
                out[name] = action.default
    return out


def test_service_score_csv_and_detect_bench_share_the_default() -> None:
    assert DEFAULT_DETECTOR == "ensemble"
    assert offline.OFFLINE_DETECTOR == DEFAULT_DETECTOR
    for function in (worker.score_pending, worker.run_detection, detect_bench.run_bench):
        assert inspect.signature(function).parameters["detector"].default == DEFAULT_DETECTOR
    assert inspect.signature(worker.DetectionWorker).parameters["detector"].default \
        == DEFAULT_DETECTOR
    cli = _defaults(commands.register)
    assert {cli[name] for name in ("run", "once", "score-csv")} == {DEFAULT_DETECTOR}
    assert set(_defaults(detect_bench.register).values()) == {DEFAULT_DETECTOR}
    assert type(make_detector()).name == DEFAULT_DETECTOR
