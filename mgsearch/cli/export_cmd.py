"""`mgsearch export`: write a found architecture (arch.json, weights, ONNX, torch.export, model card)."""

from __future__ import annotations

import argparse

from mgsearch.cli.common import add_budget_flags


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `export` subcommand."""
    p = sub.add_parser(
        "export",
        help="export a trial of a study to a folder (arch.json, weights, ONNX, torch.export, card)",
        description="Export one trial (--trial N) or the best trained feasible trial within a budget (--best) "
        "to a folder that appears complete or not at all. --retrain trains it on the full training split "
        "with the study's recipe and measures test accuracy.",
    )
    p.add_argument("study", metavar="STUDY", help="study file (.toml), SQLite database file or storage URL")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--trial", type=int, metavar="N", help="the trial number to export")
    which.add_argument("--best", action="store_true",
                       help="the most accurate trained feasible trial within the budget (confirmed networks first: "
                       "the highest mean test accuracy of `mgsearch confirm`)")
    add_budget_flags(p, prefix="with --best: ")  # one --max-<metric> per registered budget metric
    p.add_argument("--out", required=True, metavar="DIR",
                   help="output folder (must not exist unless --force; never a symbolic link)")
    p.add_argument("--retrain", action="store_true", help="train on the full training split and evaluate on test")
    p.add_argument("--epochs", type=int, metavar="E", help="with --retrain: epochs (default: the study's)")
    p.add_argument("--device", default="cpu", metavar="D", help="with --retrain: cpu, cuda, cuda:N or auto")
    p.add_argument("--force", action="store_true",
                   help="replace an earlier export folder (never one holding other files or the study's files)")
    p.add_argument("--no-progress", action="store_true",
                   help="with --retrain: no progress output (default: a bar on a terminal, else a line per epoch)")
    p.add_argument("--json", action="store_true",
                   help="print what was written as JSON on stdout (folder, files, the chosen trial, its numbers)")
    p.add_argument("--storage", metavar="URL", help="storage URL overriding the study file's")
    p.add_argument("--study-name", metavar="NAME", help="study name overriding the study file's")
    p.set_defaults(func=run)


def export_summary(result) -> dict:
    """What ``export --json`` prints: the folder and its files, the chosen trial and its numbers."""
    from pathlib import Path

    info = result.info
    folder = Path(result.path)
    return {
        "path": str(folder),
        "files": {name: str(folder / name) for name in result.files},
        "study": info.get("study"),
        "trial": info.get("trial"),
        "status": info.get("status"),
        "family": result.spec.family,
        "spec_hash": result.spec.hash,
        "params": info.get("params"),
        "macs": info.get("macs"),
        "val_acc": info.get("val_acc"),
        "test_acc": info.get("test_acc"),
        "retrained": bool(info.get("retrain")),
        "confirmed": info.get("confirmed"),
        "weights": "weights.safetensors" in result.files,
    }


def run(args: argparse.Namespace) -> int:
    import sys

    from mgsearch.cli.common import budget_flag_values, human_count
    from mgsearch.errors import ConfigError
    from mgsearch.metrics import budget_metrics

    limits = budget_flag_values(args)
    if args.trial is not None and limits:
        flags = "/".join(m.flag for m in budget_metrics())
        raise ConfigError(f"{flags} go with --best, not with --trial")
    if (args.epochs is not None or args.device != "cpu") and not args.retrain:
        raise ConfigError("--epochs and --device go with --retrain")
    if args.epochs is not None and args.epochs < 1:
        raise ConfigError(f"--epochs={args.epochs} must be >= 1")
    from mgsearch.export import export

    result = export(
        args.study,
        args.out,
        trial=args.trial,
        under=limits,
        retrain=args.retrain,
        epochs=args.epochs,
        device=args.device,
        force=args.force,
        storage=args.storage,
        study_name=args.study_name,
        progress=not args.no_progress,
    )
    info = result.info
    if args.json:
        from mgsearch.cli.common import print_json

        print_json(export_summary(result))
        return 0
    acc = f", val acc {info['val_acc']:.4f}" if info.get("val_acc") is not None else ""
    test = f", test acc {info['test_acc']:.4f}" if info.get("test_acc") is not None else ""
    confirmed = info.get("confirmed")
    if confirmed:
        test += (f", confirmed test acc {confirmed['test_acc_mean']:.4f} ± {confirmed['test_acc_sd']:.4f} over "
                 f"{len(confirmed['seeds'])} seeds")
    print(
        f"exported trial {info.get('trial')} ({result.spec.family}, {human_count(info['params'])} params, "
        f"{human_count(info['macs'])} MACs{acc}{test}) to {result.path}: {', '.join(result.files)}",
        file=sys.stderr,
    )
    return 0
