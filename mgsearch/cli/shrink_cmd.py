"""`mgsearch shrink`: LW-DNA widen-then-shrink of a preset / spec to a params or MACs budget."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mgsearch.cli.common import format_table, human_count, parse_count, positive_int, print_json


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `shrink` subcommand."""
    p = sub.add_parser(
        "shrink",
        help="LW-DNA: widen a network, score its channels, shrink it to a budget, train it from scratch",
        description=(
            "Widen BASE by --widen, rank every channel (grad-init: gradients of per-channel gates at "
            "initialisation; bn-l1: BatchNorm scales after L1 sparsity training), shrink back to the budget "
            "with per-layer widths, and (with --epochs > 0) train the result from scratch. slimmable: train the "
            "widened network as a slimmable network (no more epochs than --epochs), then narrow it greedily, "
            "one channel group at a time, by the least validation accuracy lost per unit of the binding cost."
        ),
    )
    p.add_argument("base", metavar="BASE", help="a preset name (mgsearch presets), a spec JSON file or inline JSON")
    p.add_argument("--widen", default="2", metavar="W", help="widening factor (default 2)")
    p.add_argument("--importance", default="grad-init", choices=("grad-init", "bn-l1", "slimmable"),
                   help="channel ranking (slimmable: accuracy-guided, on the widened network trained as a slimmable one)")
    p.add_argument("--max-params", metavar="N", help="parameter budget (50000, 50k, 1.5M)")
    p.add_argument("--max-macs", metavar="N", help="MAC budget per image (e.g. 20M)")
    p.add_argument("--ratio", metavar="R", help="budget as R x the base's params and MACs (default 1 without limits)")
    p.add_argument("--keep-ratio", default="auto", metavar="K",
                   help="per-layer minimum kept share of the widened width: a number in (0, 1], or auto (default: "
                        "the paper's 0.4 where the budget leaves room, else the largest that does)")
    p.add_argument("--normalise", default="mean", choices=("mean", "max", "none"),
                   help="make scores comparable across layers: divide by the layer's mean (default), max, or none")
    p.add_argument("--min-width", default="4", metavar="N", help="smallest width of any layer (default 4)")
    p.add_argument("--importance-batches", default="4", metavar="N", help="grad-init mini-batches (default 4)")
    p.add_argument("--bn-l1-epochs", default="1", metavar="N", help="bn-l1 sparsity-training epochs (default 1)")
    p.add_argument("--bn-l1-strength", default="1e-4", metavar="X", help="bn-l1 penalty weight (default 1e-4)")
    p.add_argument("--slimmable-epochs", metavar="N",
                   help="slimmable: training epochs of the widened network (default --epochs, or 1 with --epochs 0; "
                        "at most --epochs)")
    p.add_argument("--group-fraction", default="0.1", metavar="F",
                   help="slimmable: share of a layer's widened width removed per greedy step (default 0.1)")
    p.add_argument("--calibration-images", default="512", metavar="N",
                   help="slimmable: training images that recalibrate BatchNorm per scored network (default 512)")
    p.add_argument("--val-images", default="2000", metavar="N",
                   help="slimmable: validation images each network is scored on (default 2000)")
    p.add_argument("--dataset", required=True, metavar="D", help="fashion-mnist, cifar10, imagefolder:PATH, ...")
    p.add_argument("--data-root", metavar="DIR", help="dataset folder or archive")
    p.add_argument("--epochs", default="0", metavar="E", help="from-scratch training epochs (0: shrink only)")
    p.add_argument("--train-fraction", default="1.0", metavar="F", help="share of the training split (default 1)")
    p.add_argument("--batch-size", default="128", metavar="B", help="training batch size (default 128)")
    p.add_argument("--seed", default="0", metavar="S", help="seed of initialisation, scoring and training")
    p.add_argument("--distill", action="store_true", help="distil from the trained widened network (0.4, T=4)")
    p.add_argument("--baseline", action="store_true", help="also train BASE with the same protocol")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default cpu)")
    p.add_argument("--out", metavar="FILE", help="write the shrunk spec JSON here (atomically)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing --out that is not an earlier shrunk spec (never a database or BASE)")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress output (default: training bars on a terminal, slimmable-shrink lines on stderr)")
    p.set_defaults(func=run)


def _number(flag: str, text: str, *, low: float | None = None, high: float | None = None) -> float:
    from mgsearch.errors import ConfigError

    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ConfigError(f"{flag}={text!r} must be a number") from None
    if value != value or (low is not None and value <= low) or (high is not None and value > high):
        bounds = f"in ({low:g}, {high:g}]" if high is not None else f"> {low:g}"
        raise ConfigError(f"{flag}={text!r} must be a number {bounds}")
    return value


def _check_widened_memory(base: str, widen: float) -> None:
    """Refuse, before the dataset is loaded, a widening whose network cannot be trained in memory."""
    from mgsearch.presets import resolve_spec
    from mgsearch.shrink.widen import widen as widen_spec
    from mgsearch.train import check_training_memory

    check_training_memory(widen_spec(resolve_spec(base), widen), batch_size=1, what=f"the network widened x{widen:g}")


def _nonneg_int(flag: str, text: str) -> int:
    return positive_int(flag, text, minimum=0)


def is_shrunk_spec(path: Path) -> bool:
    """Whether ``path`` holds what ``--out`` writes: a spec JSON in exactly the canonical form (an
    export's ``arch.json`` excepted); only such a file is replaced without ``--force``."""
    from mgsearch.errors import MgsearchError
    from mgsearch.spec import ArchSpec

    try:
        if path.name == "arch.json" or path.stat().st_size > 1_000_000:
            return False
        text = path.read_text(encoding="utf-8")
        return text == ArchSpec.from_json(text).to_json(indent=2) + "\n"
    except (OSError, UnicodeDecodeError, MgsearchError, ValueError, RecursionError):
        return False


def _check_out(args: argparse.Namespace) -> list[Path]:
    """Check ``--out`` before any work; returns the files it must never be (BASE, if a file)."""
    from mgsearch.outputs import check_out_file

    try:
        protect = [Path(args.base)] if Path(args.base).is_file() else []
    except (OSError, ValueError):  # inline JSON: not a file name
        protect = []
    check_out_file(args.out, force=args.force, is_own=is_shrunk_spec, protected=protect, what="mgsearch shrink")
    return protect


def _summary(result: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "spec": result.shrunk.to_dict(),
        "params": result.costs["shrunk"]["params"],
        "macs": result.costs["shrunk"]["macs"],
        "base": {"spec": result.base.to_dict(), **result.costs["base"]},
        "widened": {"spec": result.widened.to_dict(), **result.costs["widened"]},
        "budget": result.budget,
        "slots": [dict(name=n, base=a, widened=b, shrunk=c) for n, a, b, c in result.slot_table()],
        "widen": result.widen,
        "importance": result.importance,
        "keep_ratio": result.keep_ratio,
        "min_width": result.min_width,
        "normalise": result.normalise,
        "importance_seconds": result.importance_seconds,
        "seed": result.seed,
        "distill": result.distill,
    }
    if result.slimmable is not None:
        out["slimmable"] = result.slimmable
    if result.trained is not None:
        out["val_acc"] = result.trained["val_acc"]
        out["test_acc"] = result.trained["test_acc"]
        out["train_seconds"] = result.trained["train_seconds"]
        out["fidelity"] = result.fidelity
        out["extra_seconds"] = result.extra_seconds
        out["extra_cost_epochs"] = result.extra_cost_epochs
    if result.teacher is not None:
        out["teacher"] = {k: result.teacher[k] for k in ("val_acc", "test_acc", "train_seconds")}
    if result.baseline is not None:
        out["baseline"] = {
            "val_acc": result.baseline["val_acc"],
            "test_acc": result.baseline["test_acc"],
            "train_seconds": result.baseline["train_seconds"],
            "distilled": result.baseline["distilled"],
            **result.costs["base"],
        }
    return out


def _budget_error(exc: Any, args: argparse.Namespace, base: Any, widen: float, keep: float | str,
                  min_width: int) -> Exception:
    """The fit's BudgetError in the command's words: the flags, and the smallest network reachable."""
    from mgsearch.errors import BudgetError
    from mgsearch.shrink.fit import minimum_spec
    from mgsearch.shrink.widen import widen as widen_spec

    minimum, limits = getattr(exc, "minimum", None), getattr(exc, "limits", None)
    if not minimum or not limits:
        return exc
    given = [(flag, limits[key]) for flag, key, text in (("--max-params", "max_params", args.max_params),
                                                          ("--max-macs", "max_macs", args.max_macs))
             if limits.get(key) is not None and (text is not None or args.ratio is not None)]
    budget = " and ".join(f"{flag} {value:,}" for flag, value in given)
    if args.ratio is not None:
        budget += f" (--ratio {args.ratio})"
    fix = " or ".join(f"raise {flag}" for flag, _ in given[:1]) or "raise the budget"
    at = f"every width at --keep-ratio {exc.keep_ratio:g} of its widened width, at least --min-width {min_width}"
    if keep == "auto":
        return BudgetError(
            f"{budget} is below the smallest network shrink can reach from {args.base} widened x{widen:g}: "
            f"{minimum['params']:,} params, {minimum['macs']:,} MACs ({at}); {fix}, or lower --min-width or --widen")
    by = tuple(k for k, v in (("params", limits.get("max_params")), ("macs", limits.get("max_macs"))) if v is not None)
    from mgsearch.cost import cost

    floor = cost(minimum_spec(widen_spec(base, widen), keep_ratio=0.01, min_width=min_width, by=by))
    return BudgetError(
        f"{budget} is below the smallest network at --keep-ratio {keep:g}: {minimum['params']:,} params, "
        f"{minimum['macs']:,} MACs ({at}); lower --keep-ratio (the default, auto, picks the largest that fits; "
        f"at 0.01 the smallest is {int(floor.params):,} params, {int(floor.macs):,} MACs) or {fix}")


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.2f}%"


def run(args: argparse.Namespace) -> int:
    from mgsearch.errors import ConfigError
    from mgsearch.presets import resolve_spec
    from mgsearch.spec import MAX_WIDTH
    from mgsearch.training.recipe import MAX_BATCH_SIZE, MAX_EPOCHS

    widen = _number("--widen", args.widen, low=0, high=MAX_WIDTH)
    ratio = None if args.ratio is None else _number("--ratio", args.ratio, low=0, high=16)
    keep: float | str = "auto" if str(args.keep_ratio).strip().lower() == "auto" else _number(
        "--keep-ratio", args.keep_ratio, low=0, high=1)
    strength = _number("--bn-l1-strength", args.bn_l1_strength, low=-1e-300)
    train_fraction = _number("--train-fraction", args.train_fraction, low=0, high=1)
    max_params = None if args.max_params is None else parse_count(args.max_params)
    max_macs = None if args.max_macs is None else parse_count(args.max_macs)
    if max_params is None and max_macs is None and ratio is None:
        ratio = 1.0  # the base network's own budget
    epochs = _nonneg_int("--epochs", args.epochs)
    if (args.distill or args.baseline) and epochs == 0:
        raise ConfigError("--distill and --baseline train networks: give --epochs >= 1")
    seed = _nonneg_int("--seed", args.seed)
    min_width = positive_int("--min-width", args.min_width)
    batches = positive_int("--importance-batches", args.importance_batches)
    bn_epochs = positive_int("--bn-l1-epochs", args.bn_l1_epochs)
    batch_size = positive_int("--batch-size", args.batch_size)
    slim_epochs = None if args.slimmable_epochs is None else positive_int("--slimmable-epochs", args.slimmable_epochs)
    group_fraction = _number("--group-fraction", args.group_fraction, low=0, high=1)
    calibration = positive_int("--calibration-images", args.calibration_images, minimum=2)
    val_images = positive_int("--val-images", args.val_images)
    if args.importance == "slimmable" and slim_epochs is not None and epochs and slim_epochs > epochs:
        raise ConfigError(f"--slimmable-epochs={slim_epochs} is more than --epochs={epochs}: LW-DNA's rule is that "
                          "finding the widths costs no more training than the network's own")
    for flag, value, most in (("--epochs", epochs, MAX_EPOCHS), ("--importance-batches", batches, 100_000),
                              ("--bn-l1-epochs", bn_epochs, MAX_EPOCHS), ("--batch-size", batch_size, MAX_BATCH_SIZE),
                              ("--min-width", min_width, MAX_WIDTH), ("--slimmable-epochs", slim_epochs, MAX_EPOCHS)):
        if value is not None and value > most:
            raise ConfigError(f"{flag}={value} must be <= {most}")
    _check_widened_memory(args.base, widen)
    protect = _check_out(args) if args.out else []

    from mgsearch.data import load_dataset
    from mgsearch.errors import BudgetError
    from mgsearch.shrink import shrink as _shrink

    dataset = load_dataset(args.dataset, args.data_root)
    base = resolve_spec(
        args.base, in_channels=dataset.in_channels, num_classes=dataset.num_classes, input_size=dataset.input_size
    )
    try:
        result = _shrink(
            base,
            dataset,
            widen=widen,
            importance=args.importance,
            max_params=max_params,
            max_macs=max_macs,
            ratio=ratio,
            keep_ratio=keep,
            min_width=min_width,
            normalise=args.normalise,
            importance_batches=batches,
            bn_l1_epochs=bn_epochs,
            bn_l1_strength=strength,
            epochs=epochs,
            train_fraction=train_fraction,
            batch_size=batch_size,
            seed=seed,
            device=args.device,
            distill=args.distill,
            baseline=args.baseline,
            slimmable_epochs=slim_epochs,
            group_fraction=group_fraction,
            calibration_images=calibration,
            val_images=val_images,
            # the library's default: a bar on a terminal, silent otherwise; the greedy steps' lines on stderr
            progress=False if args.no_progress else None,
            log=None if args.no_progress else "stderr",
        )
    except BudgetError as exc:
        raise _budget_error(exc, args, base, widen, keep, min_width) from None
    if args.out:
        from mgsearch.outputs import check_out_file, write_text_atomic

        check_out_file(args.out, force=args.force, is_own=is_shrunk_spec, protected=protect, what="mgsearch shrink")
        write_text_atomic(args.out, result.shrunk.to_json(indent=2) + "\n")
    if args.json:
        print_json(_summary(result))
        return 0
    print(
        f"LW-DNA shrink of {args.base}: widen x{widen:g}, importance {args.importance}, "
        f"keep_ratio {result.keep_ratio:g}{' (auto)' if keep == 'auto' else ''}, dataset {dataset.name}"
    )
    print()
    print(format_table(["width slot", "base", "widened", "shrunk"], result.slot_table()))
    print()
    rows = [[name, result.costs[name]["params"], result.costs[name]["macs"]] for name in ("base", "widened", "shrunk")]
    rows.append(["budget", result.budget["max_params"], result.budget["max_macs"]])
    print(format_table(["network", "params", "MACs"], rows))
    print()
    if result.slimmable is not None:
        sl = result.slimmable
        print(f"slimmable training: {sl['epochs']} epoch(s), {sl['train_seconds']:.1f} s; greedy shrink: "
              f"{len(sl['steps'])} steps, {sl['configurations_scored']} networks scored, {sl['greedy_seconds']:.1f} s")
    print(
        f"channel scoring: {result.importance_seconds:.2f} s; shrunk: {human_count(result.costs['shrunk']['params'])} "
        f"params, {human_count(result.costs['shrunk']['macs'])} MACs"
    )
    if result.trained is not None:
        t = result.trained
        line = f"from scratch ({epochs} epochs{', distilled' if args.distill else ''}): val {_pct(t['val_acc'])}, test {_pct(t['test_acc'])}"
        print(line)
        if result.baseline is not None:
            b = result.baseline
            print(f"uniform base, same protocol: val {_pct(b['val_acc'])}, test {_pct(b['test_acc'])}")
        extra = result.extra_cost_epochs
        print(f"pipeline extra cost: {result.extra_seconds:.1f} s = {extra:.2f} epochs of the shrunk network")
    if args.out:
        print(f"wrote {args.out}")
    return 0
