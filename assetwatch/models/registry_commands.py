"""``assetwatch models list|show|promote|rollback``: the failure models' versions by hand.

Cheap to import (the work is in :mod:`assetwatch.models.prediction.governance`). Promoting or
rolling back records the user in the audit trail; an unknown component type or version is one
clear error and changes nothing.
"""

from __future__ import annotations

import argparse
import getpass

from assetwatch.core.settings import Settings

__all__ = ["register"]


def register(commands: argparse._SubParsersAction) -> None:
    models = commands.add_parser("models", help="failure-model versions: champion, challenger, "
                                                "audit trail")
    actions = models.add_subparsers(dest="models_action", required=True)
    list_ = actions.add_parser("list", help="versions per component type and their stage")
    list_.add_argument("--all", action="store_true",
                       help="also retired versions and candidates kept aside")
    list_.set_defaults(func=_list)
    show = actions.add_parser("show", help="one version: metrics, shadow comparison, audit")
    show.add_argument("component_type")
    show.add_argument("version", type=int, nargs="?", help="default: the champion")
    show.set_defaults(func=_show)
    promote = actions.add_parser("promote", help="make a version the champion now")
    promote.add_argument("component_type")
    promote.add_argument("version", type=int)
    promote.add_argument("--reason", default="promoted by hand")
    promote.set_defaults(func=_promote)
    rollback = actions.add_parser(
        "rollback", help="make the champion's predecessor champion again")
    rollback.add_argument("component_type")
    rollback.add_argument("--reason", default="rolled back by hand")
    rollback.set_defaults(func=_rollback)


def _fmt(value: object, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def _list(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.db import connect

    with connect(settings) as conn:
        rows = conn.execute(
            "SELECT component_type, version, stage, kind, score, trained_at, outcomes,"
            " challenger_score, champion_score FROM v_model_version"
            " WHERE model_name = 'failure-risk' AND (%s OR stage IN ('champion', 'challenger'))"
            " ORDER BY component_type, version", (args.all,)).fetchall()
    print(f"{'component type':<22}{'ver':>4}  {'stage':<11}{'kind':<20}{'fold score':>10}"
          f"  {'trained':<17}{'live: outcomes':>15}{'mine':>7}{'champ':>7}")
    for component, version, stage, kind, score, trained, outcomes, mine, champ in rows:
        print(f"{component or '-':<22}{version:>4}  {stage:<11}{kind or '-':<20}"
              f"{_fmt(score):>10}  {trained:%Y-%m-%d %H:%M}{_fmt(outcomes, 'd'):>15}"
              f"{_fmt(mine):>7}{_fmt(champ):>7}")
    return 0


def _show(settings: Settings, args: argparse.Namespace) -> int:
    import json

    from assetwatch.core.db import connect
    from assetwatch.models.prediction.errors import PredictionError
    from assetwatch.models.prediction.governance import find_version
    from assetwatch.models.prediction.model_registry import MODEL_NAME, current_version

    with connect(settings) as conn:
        if args.version is None:
            version = current_version(conn, MODEL_NAME, args.component_type)
            if version is None:
                raise PredictionError(f"no champion for {args.component_type!r}")
        else:
            version = find_version(conn, MODEL_NAME, args.component_type, args.version)
        stage = conn.execute("SELECT stage, shadow_from, shadow_until FROM v_model_version"
                             " WHERE model_version_id = %s",
                             (version.model_version_id,)).fetchone()
        comparisons = conn.execute(
            "SELECT compared_at, predictions, outcomes, challenger_score, champion_score,"
            " decision, reason FROM model_comparison WHERE challenger_id = %s"
            " ORDER BY compared_at DESC LIMIT 5", (version.model_version_id,)).fetchall()
        trail = conn.execute("SELECT at, action, actor, reason FROM model_audit"
                             " WHERE model_version_id = %s ORDER BY at, audit_id",
                             (version.model_version_id,)).fetchall()
    print(f"{version.component_type} version {version.version} ({version.kind}): {stage[0]}")
    if stage[1] is not None:
        print(f"  shadow from {stage[1]:%Y-%m-%d %H:%M} until {stage[2]:%Y-%m-%d %H:%M}")
    print(f"  trained {version.trained_at:%Y-%m-%d %H:%M} on "
          f"{_fmt(version.train_from, '%Y-%m-%d')} .. {_fmt(version.train_to, '%Y-%m-%d')}")
    print("  metrics " + json.dumps({k: v for k, v in version.metrics.items()
                                     if k in ("score", "failures", "baseline", "prior",
                                              "note")}, default=str))
    for at, n, outcomes, mine, champ, decision, reason in comparisons:
        print(f"  compared {at:%Y-%m-%d %H:%M}: {n} predictions, {outcomes} outcomes, "
              f"{_fmt(mine)} vs champion {_fmt(champ)} -> {decision} ({reason})")
    for at, action, actor, reason in trail:
        print(f"  {at:%Y-%m-%d %H:%M} {action} by {actor}: {reason}")
    return 0


def _promote(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.db import session
    from assetwatch.models.prediction.governance import find_version, set_champion
    from assetwatch.models.prediction.model_registry import MODEL_NAME

    with session(settings) as conn:
        version = find_version(conn, MODEL_NAME, args.component_type, args.version)
        set_champion(conn, version, actor=getpass.getuser(), reason=args.reason)
    print(f"{args.component_type}: version {args.version} is the champion")
    return 0


def _rollback(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.db import session
    from assetwatch.models.prediction.governance import rollback
    from assetwatch.models.prediction.model_registry import MODEL_NAME

    with session(settings) as conn:
        target = rollback(conn, MODEL_NAME, args.component_type, actor=getpass.getuser(),
                          reason=args.reason)
    print(f"{args.component_type}: back to version {target.version}")
    return 0
