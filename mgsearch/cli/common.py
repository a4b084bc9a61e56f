"""Helpers shared by the command modules: output formatting and common arguments."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any, Sequence

from mgsearch.metrics.numbers import human_count, parse_count_text

if TYPE_CHECKING:  # pragma: no cover
    from mgsearch.metrics import Metric

__all__ = [
    "print_json", "format_table", "human_count", "parse_count", "positive_int", "add_shape_overrides",
    "shape_overrides", "shape_source", "study_shapes", "dataset_shapes", "add_budget_flags", "parse_limit_flag",
    "budget_flag_values",
]


def print_json(obj: Any) -> None:
    """Print one JSON document on stdout."""
    json.dump(obj, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, align: str | None = None) -> str:
    """A plain-text table; ``align`` holds one of 'l'/'r' per column (default: numbers right)."""
    cells = [[str(h) for h in headers]] + [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    if align is None:
        align = "".join(
            "r" if rows and all(isinstance(row[i], (int, float)) for row in rows) else "l" for i in range(len(headers))
        )
    lines = []
    for n, row in enumerate(cells):
        parts = [c.rjust(w) if a == "r" else c.ljust(w) for c, w, a in zip(row, widths, align)]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return "-" if v is None else str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def parse_count(text: str) -> int:
    """'50k' -> 50000, '1.5M' -> 1500000, '2e6' -> 2000000; plain integers pass through."""
    from mgsearch.errors import ConfigError

    value = parse_count_text(text)
    if value is None:
        raise ConfigError(f"{text!r} is not a count (examples: 50000, 50k, 1.5M)")
    if value <= 0:
        raise ConfigError(f"{text!r} must be a positive count")
    return value


def add_budget_flags(group: Any, *, prefix: str = "", analytic_only: bool = False) -> None:
    """One ``--max-<metric>`` flag per registered budget metric (``--max-params``, ``--max-macs``,
    ``--max-latency-ms``, ...), stored under the budget key as the text given (``args.max_params``);
    ``analytic_only``: only the metrics computed from the spec (no latency)."""
    from mgsearch.metrics import ANALYTIC, MEASURED, budget_metrics

    for m in budget_metrics():
        if analytic_only and m.kind != ANALYTIC:
            continue
        example = ", e.g. 50k" if m.integer else ""
        measured = ", where measured" if m.kind == MEASURED else ""
        group.add_argument(m.flag, dest=m.budget_key, metavar="N" if m.integer else "X",
                           help=f"{prefix}limit on {m.label}{example}{measured}")


def parse_limit_flag(metric: "Metric", text: str) -> float:
    """The limit given to ``metric``'s flag (``'50k'`` for counts); a bad one is a one-line ConfigError."""
    from mgsearch.errors import ConfigError, clip_repr

    try:
        value: Any = parse_count(text) if metric.integer else text
    except ConfigError as exc:  # name the flag: "--max-params='lots' is not a count ..."
        raise ConfigError(f"{metric.flag}={exc}") from None
    limit = metric.parse_limit(value)
    if limit is None:
        raise ConfigError(f"{metric.flag}={clip_repr(text)} is not allowed: {metric.limit_rule}")
    return limit


def budget_flag_values(args: argparse.Namespace) -> dict[str, float]:
    """``{metric name: limit}`` of the :func:`add_budget_flags` flags that were given."""
    from mgsearch.metrics import budget_metrics

    return {m.name: parse_limit_flag(m, text) for m in budget_metrics()
            if (text := getattr(args, m.budget_key, None)) is not None}


def positive_int(flag: str, text: str | int | None, *, default: int | None = None, minimum: int = 1) -> int | None:
    """Parse a command-line integer >= ``minimum`` (default 1); a bad value is a one-line
    ConfigError naming ``flag``."""
    from mgsearch.errors import ConfigError

    if text is None:
        return default
    kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
    try:
        value = int(str(text).strip())
    except ValueError:
        raise ConfigError(f"{flag}={text!r} must be {kind}") from None
    if value < minimum:
        raise ConfigError(f"{flag}={value} must be >= {minimum}")
    return value


def add_shape_overrides(parser: Any, *, study_help: str = "") -> None:
    """Add the input / output shape flags: ``--dataset NAME`` or ``--study STUDY.toml`` (a registered
    dataset's shape, read from the dataset registry: no data is loaded), and ``--in-channels``,
    ``--num-classes``, ``--input-size`` (which override those)."""
    g = parser.add_argument_group("input / output shape (default: the spec's or space file's own; presets are "
                                  "3x32x32 with 10 classes)")
    g.add_argument("--dataset", metavar="NAME",
                   help="the shape of this dataset (fashion-mnist / mnist 1x28x28, cifar10 / svhn 3x32x32, cifar100 "
                        "3x32x32 with 100 classes); no data is read")
    g.add_argument("--study", metavar="STUDY.toml", help="the shape of the study's dataset (its [data] dataset)" + study_help)
    g.add_argument("--in-channels", metavar="N", help="input image channels (overrides the above)")
    g.add_argument("--num-classes", metavar="N", help="classifier outputs (overrides the above)")
    g.add_argument("--input-size", metavar="N", help="input side length in pixels (overrides the above)")


_SHAPE_KEYS = ("in_channels", "num_classes", "input_size")


def dataset_shapes(name: str, *, where: str) -> dict[str, int | None]:
    """``{in_channels, num_classes, input_size}`` of dataset ``name`` from the dataset registry (no data is
    read); all None for an image folder (its images set them). ``where`` names the flag or study key in
    the one-line error for an unknown name (``--dataset``, ``studies/x.toml: data.dataset``)."""
    from mgsearch.data.sources import DATASETS, dataset_shape
    from mgsearch.errors import ConfigError, DataError, clip_repr

    try:
        shape = dataset_shape(name)
    except DataError:
        known = ", ".join(n for n in DATASETS if n != "imagefolder")
        raise ConfigError(f"{where}={clip_repr(name)} is not a known dataset; choose one of {known} "
                          "(an image folder's shape: --in-channels, --num-classes, --input-size)") from None
    return dict(zip(_SHAPE_KEYS, shape)) if shape else dict.fromkeys(_SHAPE_KEYS)


def shape_source(args: Any) -> tuple[dict[str, int | None], Any, str]:
    """The shape given by ``--dataset`` / ``--study`` (all None when neither), the study's
    :class:`~mgsearch.study.StudyConfig` (None without ``--study``) and where the shape came from
    (``--dataset='mnist'``, ``studies/x.toml: data.dataset='mnist'``; ``""`` when neither)."""
    from mgsearch.errors import ConfigError

    dataset, study_file = getattr(args, "dataset", None), getattr(args, "study", None)
    if dataset is not None and study_file is not None:
        raise ConfigError("--dataset and --study both set the input shape; pass one of them")
    if dataset is not None:
        return dataset_shapes(dataset, where="--dataset"), None, f"--dataset={dataset!r}"
    if study_file is not None:
        return study_shapes(study_file)
    return dict.fromkeys(_SHAPE_KEYS), None, ""


def study_shapes(path: str) -> tuple[dict[str, int | None], Any, str]:
    """:func:`shape_source` for study file ``path``: its dataset's shape, its config, where."""
    from mgsearch.study import load_study_config

    config = load_study_config(path)
    where = f"{path}: data.dataset"
    return dataset_shapes(config.dataset, where=where), config, f"{where}={config.dataset!r}"


def shape_overrides(args: Any, source: tuple[dict[str, int | None], Any, str] | None = None) -> dict[str, int | None]:
    """The shape to give the spec or space: :func:`add_shape_overrides`'s number flags, validated, over
    the ``--dataset`` / ``--study`` shape (``source``: :func:`shape_source`'s answer, computed when
    None); None where nothing sets a value. An image-folder dataset needs all three numbers."""
    from mgsearch.errors import ConfigError

    base, _, where = source if source is not None else shape_source(args)
    given = {
        "in_channels": positive_int("--in-channels", getattr(args, "in_channels", None)),
        "num_classes": positive_int("--num-classes", getattr(args, "num_classes", None)),
        "input_size": positive_int("--input-size", getattr(args, "input_size", None)),
    }
    missing = [k for k in _SHAPE_KEYS if given[k] is None and base.get(k) is None]
    if where and missing:
        flags = ", ".join("--" + k.replace("_", "-") for k in missing)
        raise ConfigError(f"{where} is an image folder, whose images set the shape (no data is read here); "
                          f"pass {flags}")
    return {k: given[k] if given[k] is not None else base.get(k) for k in _SHAPE_KEYS}
