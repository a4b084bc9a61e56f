"""Study files: the TOML schema of a budgeted search, its validation, defaults and CLI overrides.

A study file names the search space, the data and fidelity, the budget, the objectives and how
Optuna searches (sampler, pruner, trials, storage). :func:`load_study_config` reads one, applies
command-line overrides and returns a frozen :class:`StudyConfig`; every mistake is a
:class:`~mgsearch.errors.ConfigError` whose one line names the file (or the flag), the key path,
the value and what is allowed. ``docs/search.md`` documents every key.

This module never imports optuna or torch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from mgsearch.errors import ConfigError, clip, clip_repr, field_error, unknown_key_error
from mgsearch.inputs import input_file_problem, parse_toml, read_input_file

__all__ = [
    "StudyConfig",
    "adopt_stored_defaults",
    "load_study_config",
    "locate_study",
    "parse_study_config",
    "redact_url",
    "default_storage_url",
    "SAMPLERS",
    "PRUNERS",
    "strategy_names",
    "PRIMARY_OBJECTIVE",
    "objective_names",
    "OVERRIDE_KEYS",
    "override_keys",
]

SAMPLERS = ("tpe", "nsga2", "random", "gp", "qmc")
PRUNERS = ("hyperband", "successive-halving", "median", "pareto", "none")
#: the pruners of multi-objective studies (Optuna prunes none; ``pareto`` is mgsearch's own)
MO_PRUNERS = ("pareto", "none")
#: the first objective is always val_acc (maximised); the others are registered metrics (objective_names)
PRIMARY_OBJECTIVE = "val_acc"
#: the rule for study names (``[study] name``, ``--name`` and the default taken from the file name)
NAME_PATTERN = r"[A-Za-z0-9_.\-]{1,100}"
NAME_RULE = "1-100 letters, digits, '_', '-', '.'"

#: CLI override name -> key path in the study file (the budget keys come from the metric registry:
#: :func:`override_keys`)
OVERRIDE_KEYS: dict[str, tuple[str, str]] = {
    "name": ("study", "name"),
    "n_trials": ("study", "n_trials"),
    "timeout": ("study", "timeout"),
    "storage": ("study", "storage"),
    "seed": ("study", "seed"),
    "sampler": ("study", "sampler"),
    "pruner": ("study", "pruner"),
    "repair": ("study", "repair"),
    "fill_budget": ("study", "fill_budget"),
    "dataset": ("data", "dataset"),
    "data_root": ("data", "root"),
    "train_fraction": ("data", "train_fraction"),
    "epochs": ("fidelity", "epochs"),
    "batch_size": ("fidelity", "batch_size"),
    "device": ("device", "name"),
    "threads": ("device", "threads"),
}


def override_keys() -> dict[str, tuple[str, str]]:
    """:data:`OVERRIDE_KEYS` plus one ``max_<metric>`` override per registered budget metric."""
    from mgsearch.metrics import budget_keys

    return {**OVERRIDE_KEYS, **{key: ("budget", key) for key in budget_keys()}}


def objective_names() -> tuple[str, ...]:
    """The allowed objectives: :data:`PRIMARY_OBJECTIVE` first, then every registered metric that may
    be searched on (test accuracy may not)."""
    from mgsearch.metrics import metrics

    return (PRIMARY_OBJECTIVE,) + tuple(m.name for m in metrics(where=lambda m: m.objective) if m.name != PRIMARY_OBJECTIVE)


# --------------------------------------------------------------------------- the value
@dataclass(frozen=True)
class StudyConfig:
    """The effective configuration of one study (file values, defaults and CLI overrides applied).

    ``storage`` is the real URL (it may hold a password): never print it; :meth:`to_dict` and
    :attr:`storage_display` remove the password.
    """

    path: Path
    name: str
    space: str
    space_path: Path
    space_sha256: str
    strategy: str = "direct"
    seed: int = 0
    n_trials: int | None = 20
    timeout: float | None = None
    storage: str = ""
    sampler: str = "tpe"
    pruner: str = "median"
    #: ``[pruning]`` settings of the ``pareto`` pruner (multi-objective studies; docs/search.md)
    pruning_margin: float = 0.01
    pruning_startup_trials: int = 5
    objectives: tuple[str, ...] = ("val_acc",)
    repair: bool = False
    #: scale every candidate onto the budget (single objective with an analytic budget; default true there)
    fill_budget: bool = False
    #: True when neither the file nor a flag set ``fill_budget`` (a study created before the key existed
    #: then keeps its unscaled candidates: :func:`adopt_stored_defaults`)
    fill_budget_default: bool = field(default=False, compare=False, repr=False)
    heartbeat_interval: int = 30
    grace_period: int = 120
    max_retry: int = 2
    dataset: str = ""
    data_root: str | None = None
    val_fraction: float = 0.1
    train_fraction: float = 1.0
    epochs: int = 5
    batch_size: int = 128
    #: budget: metric name -> limit (only the limited metrics; ``config.max_params`` reads one)
    limits: Mapping[str, float] = field(default_factory=dict)
    recipe: Mapping[str, Any] = field(default_factory=dict)
    device: str = "auto"
    threads: int | None = None
    #: the raw settings table of the strategy (``{"lwdna": {...}}``; stored in ``config``) and its
    #: parsed form (``Strategy.parse_settings``, done once when the file is read)
    strategy_tables: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    strategy_settings: Any = field(default=None, compare=False, repr=False)
    baseline_sizes: tuple[float, ...] = (1.0,)
    #: ``[confirm]``: the final protocol of ``mgsearch confirm`` / ``calibrate`` (epochs None: twice the
    #: search's epochs), how many distinct top trials and seeds; ``[calibrate]``: candidates, top-k
    confirm_epochs: int | None = None
    confirm_train_fraction: float = 1.0
    confirm_top: int = 3
    confirm_seeds: int = 3
    calibrate_n: int = 12
    calibrate_top_k: int = 3

    # ------------------------------------------------------------------ views
    @property
    def multi_objective(self) -> bool:
        """True when more than val_acc is optimised (no Optuna pruner then)."""
        return len(self.objectives) > 1

    @property
    def storage_display(self) -> str:
        """The storage URL with any password replaced by ``***``."""
        return redact_url(self.storage)

    def limit(self, metric: str) -> float | None:
        """The budget limit on ``metric`` (a registered name), or None when unlimited."""
        from mgsearch.metrics import get_metric

        return self.limits.get(get_metric(metric).name)

    def __getattr__(self, name: str) -> Any:
        # ``config.max_params``: the limit under a registered budget key (None where unset)
        if name.startswith("max_") and "limits" in self.__dict__:
            from mgsearch.metrics import metric_for_budget_key

            metric = metric_for_budget_key(name)
            if metric is not None:
                return self.__dict__["limits"].get(metric.name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def budget(self) -> dict[str, Any]:
        """``{"max_params", "max_macs", "max_latency_ms", ...}``: every registered budget key, None where
        unset (the stored form)."""
        from mgsearch.metrics import budget_metrics

        return {m.budget_key: self.limits.get(m.name) for m in budget_metrics()}

    def fidelity(self) -> dict[str, Any]:
        """``{"epochs", "train_fraction", "batch_size"}`` (the stored form)."""
        return {"epochs": self.epochs, "train_fraction": self.train_fraction, "batch_size": self.batch_size}

    def to_dict(self) -> dict[str, Any]:
        """The effective configuration as a JSON-ready dict in the study-file layout (no password)."""
        return {
            "study": {
                "name": self.name,
                "file": str(self.path),
                "space": self.space,
                "space_sha256": self.space_sha256,
                "strategy": self.strategy,
                "seed": self.seed,
                "n_trials": self.n_trials,
                "timeout": self.timeout,
                "storage": self.storage_display,
                "sampler": self.sampler,
                "pruner": self.pruner,
                "objectives": list(self.objectives),
                "repair": self.repair,
                "fill_budget": self.fill_budget,
                "heartbeat_interval": self.heartbeat_interval,
                "grace_period": self.grace_period,
                "max_retry": self.max_retry,
            },
            "data": {
                "dataset": self.dataset,
                "root": self.data_root,
                "val_fraction": self.val_fraction,
                "train_fraction": self.train_fraction,
            },
            "fidelity": {"epochs": self.epochs, "batch_size": self.batch_size},
            "budget": self.budget(),
            "recipe": dict(self.recipe),
            "device": {"name": self.device, "threads": self.threads},
            **{table: dict(content) for table, content in self.strategy_tables.items()},
            "baselines": {"sizes": list(self.baseline_sizes)},
            # only where it applies: the stored configs of other studies stay as they were
            **({"pruning": {"margin": self.pruning_margin, "startup_trials": self.pruning_startup_trials}}
               if self.pruner == "pareto" else {}),
            "confirm": {"epochs": self.confirm_epochs, "train_fraction": self.confirm_train_fraction,
                        "top": self.confirm_top, "seeds": self.confirm_seeds},
            "calibrate": {"n": self.calibrate_n, "top_k": self.calibrate_top_k},
        }

    def replace(self, **changes: Any) -> "StudyConfig":
        """A copy with fields changed (not validated again: for tests and internal use)."""
        return dataclasses.replace(self, **changes)


#: keys of the stored config that may differ between runs of the same study
RUN_KEYS = {
    ("study", "n_trials"),
    ("study", "timeout"),
    ("study", "storage"),
    ("study", "file"),
    ("study", "heartbeat_interval"),
    ("study", "grace_period"),
    ("study", "max_retry"),
    ("device", "name"),
    ("device", "threads"),
    ("data", "root"),
    ("baselines", "sizes"),
    # what confirm / calibrate run later does not define the search
    ("confirm", "epochs"),
    ("confirm", "train_fraction"),
    ("confirm", "top"),
    ("confirm", "seeds"),
    ("calibrate", "n"),
    ("calibrate", "top_k"),
}


#: keys added after studies were first stored, with the value a stored config without them means
#: (the behaviour of the version that wrote it)
LEGACY_DEFAULTS: dict[tuple[str, str], Any] = {
    ("study", "fill_budget"): False,
}


def stored_value(stored: Mapping[str, Any], table: str, key: str) -> Any:
    """The value of ``table.key`` in a stored config; :data:`LEGACY_DEFAULTS` where it predates the key."""
    section = stored.get(table) or {}
    if isinstance(section, Mapping) and key not in section and (table, key) in LEGACY_DEFAULTS:
        return LEGACY_DEFAULTS[(table, key)]
    return section.get(key) if isinstance(section, Mapping) else None


def adopt_stored_defaults(config: "StudyConfig", stored: Mapping[str, Any] | None) -> "StudyConfig":
    """``config`` for resuming the study whose stored config is ``stored`` (None: a new study): a key
    the study file leaves at its default takes the stored study's value where the study predates
    the key (:data:`LEGACY_DEFAULTS`), so a study created before ``fill_budget`` resumes unscaled."""
    if not isinstance(stored, Mapping):
        return config
    if config.fill_budget_default and "fill_budget" not in (stored.get("study") or {}):
        return config.replace(fill_budget=stored_value(stored, "study", "fill_budget"))
    return config


def config_differences(stored: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """Key paths (``"fidelity.epochs"``) where two stored configs differ in what defines the study
    (a key missing from ``stored`` reads as its :data:`LEGACY_DEFAULTS` value)."""
    out = []
    for table in sorted(set(stored) | set(current)):
        a, b = stored.get(table) or {}, current.get(table) or {}
        if not isinstance(a, Mapping) or not isinstance(b, Mapping):
            if a != b:
                out.append(table)
            continue
        for key in sorted(set(a) | set(b)):
            if (table, key) in RUN_KEYS:
                continue
            if stored_value(stored, table, key) != b.get(key):
                out.append(f"{table}.{key}")
    return out


# --------------------------------------------------------------------------- helpers
def redact_url(url: str) -> str:
    """``url`` with every credential hidden (see :func:`mgsearch.store.redact_url`, which this is)."""
    from mgsearch.store.urls import redact_url as redact

    return redact(url)


def space_sha256(path: Path) -> str:
    """SHA-256 of the search-space file's *parsed* content (canonical JSON of the TOML), so comments
    and layout do not change it; of the raw bytes when the file does not parse (its reader says why)."""
    import json

    raw = path.read_bytes()
    try:
        table = legacy_dense_spelling(tomllib.loads(raw.decode("utf-8")))
        canonical = json.dumps(table, sort_keys=True, separators=(",", ":"), default=str)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError, ValueError, TypeError):
        return hashlib.sha256(raw).hexdigest()
    return hashlib.sha256(canonical.encode()).hexdigest()


def legacy_dense_spelling(table: Any) -> Any:
    """A parsed space table with every spelling of dense in ``stages[i].group_size`` written ``"none"``
    (the spelling before :data:`mgsearch.spec.DENSE`), so that re-spelling a space file changes neither
    its hash nor the identity of the studies made with it."""
    from mgsearch.spec import DENSE, DENSE_ALIASES

    def one(g: Any) -> Any:
        return DENSE_ALIASES[0] if isinstance(g, str) and (g == DENSE or g in DENSE_ALIASES) else g

    stages = table.get("stages") if isinstance(table, dict) else None
    if not isinstance(stages, list):
        return table
    out = []
    for st in stages:
        if isinstance(st, dict) and "group_size" in st:
            g = st["group_size"]
            st = {**st, "group_size": [one(x) for x in g] if isinstance(g, list) else one(g)}
        out.append(st)
    return {**table, "stages": out}


def default_storage_url(study_file: Path) -> str:
    """``sqlite:///<study_dir>/<study_stem>.db`` (absolute)."""
    return f"sqlite:///{study_file.resolve().with_suffix('.db')}"


def _resolve_sqlite(url: str, base: Path) -> str:
    """Relative SQLite paths are taken relative to the study file's folder."""
    m = re.match(r"^sqlite(\+\w+)?:///(.*)$", url)
    if not m or not m.group(2) or m.group(2).startswith("/") or m.group(2) == ":memory:":
        return url
    return f"sqlite{m.group(1) or ''}:///{(base / m.group(2)).resolve()}"


class _Reader:
    """Reads one table of the raw TOML data and reports errors with file and key path."""

    def __init__(self, file: Path, origins: dict[tuple[str, str], str]) -> None:
        self.file = file
        self.origins = origins

    def fail(self, table: str, key: str, value: Any, allowed: str) -> ConfigError:
        origin = self.origins.get((table, key))
        where = f"command line {origin}" if origin else str(self.file)
        return field_error(ConfigError, f"{table}.{key}", f"is not allowed: {allowed}", value=value, source=where)


_TABLES: dict[str, tuple[str, ...]] = {
    "study": (
        "name", "space", "strategy", "seed", "n_trials", "timeout", "storage", "sampler", "pruner",
        "objectives", "repair", "fill_budget", "heartbeat_interval", "grace_period", "max_retry",
    ),
    "data": ("dataset", "root", "val_fraction", "train_fraction"),
    "fidelity": ("epochs", "batch_size"),
    "budget": (),  # the registered budget keys (_allowed_keys)
    "device": ("name", "threads"),
    "baselines": ("sizes",),
    "pruning": ("margin", "startup_trials"),
    "confirm": ("epochs", "train_fraction", "top", "seeds"),
    "calibrate": ("n", "top_k"),
    "recipe": (),  # passthrough (checked against train.Recipe)
}
# and one settings table per registered strategy that has one (``[lwdna]``): _strategy_tables()


def strategy_names() -> tuple[str, ...]:
    """The strategies a study file may name (from the strategy registry, e.g. ``direct``, ``lwdna``)."""
    from mgsearch.strategies.registry import strategy_names as names

    return names(lambda s: s.searches)


def _strategy_tables() -> dict[str, str]:
    """Settings table -> the strategy that reads it (``{"lwdna": "lwdna"}``), from the registry."""
    from mgsearch.strategies.registry import strategies

    return {s.table: s.name for s in strategies() if s.searches and s.table and s.table not in _TABLES}


def _allowed_keys(table: str) -> tuple[str, ...]:
    """The keys a table may hold (empty: a passthrough table); ``[budget]``'s come from the metric registry."""
    if table == "budget":
        from mgsearch.metrics import budget_keys

        return budget_keys()
    return _TABLES[table]


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))


def _parse_seconds(text: str) -> float | None:
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(s|m|min|h|d)?\s*", text.lower())
    if not m:
        return None
    scale = {None: 1, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}[m.group(2)]
    return float(m.group(1)) * scale


# --------------------------------------------------------------------------- loading
def locate_study(target: str | Path, *, storage: str | None = None,
                 study_name: str | None = None) -> tuple[str, str | None, str | None]:
    """Where the stored study of ``target`` is: ``(storage URL, study name or None, study file or None)``.

    ``target`` is a study file (``.toml``: its storage and name, unless ``storage`` / ``study_name``
    override them), an SQLite database file (``storage`` overrides it) or a storage URL. A missing
    study file is a :class:`ConfigError`; the name is None where the caller must find it in the database.
    """
    text = str(target)
    if "://" in text:
        return text, study_name, None
    path = Path(text)
    if path.suffix == ".toml":
        if not path.is_file():
            raise ConfigError(f"{path}: study file not found")
        cfg = load_study_config(path, {"storage": storage} if storage else None)
        return cfg.storage, study_name or cfg.name, str(path)
    if storage:
        return storage, study_name, None
    return f"sqlite:///{path.resolve()}", study_name, None


def load_study_config(path: str | Path, overrides: Mapping[str, Any] | None = None) -> StudyConfig:
    """Read and validate a study file; ``overrides`` maps :data:`OVERRIDE_KEYS` names (CLI flags) to values.

    Raises :class:`ConfigError` (one line: file or flag, key path, value, what is allowed).
    """
    file = Path(path)
    text = read_input_file(file, missing="study file not found", expected="a study .toml file")
    return parse_study_config(parse_toml(text, str(file)), file, overrides)


def parse_study_config(
    raw: Mapping[str, Any], file: Path, overrides: Mapping[str, Any] | None = None
) -> StudyConfig:
    """Validate already-parsed TOML data of the study file ``file`` (see :func:`load_study_config`)."""
    file = Path(file)
    data: dict[str, dict[str, Any]] = {}
    strategy_tables = _strategy_tables()
    for table, content in raw.items():
        if table not in _TABLES and table not in strategy_tables:
            known = ", ".join([*_TABLES, *strategy_tables])
            raise ConfigError(f"{file}: [{clip(table)}] is not a known table; allowed: {known}")
        if not isinstance(content, Mapping):
            raise ConfigError(f"{file}: {table}={clip_repr(content)} is not allowed: it must be a table [{table}]")
        allowed = _allowed_keys(table) if table in _TABLES else ()  # a strategy checks its own table
        if allowed:
            for key in content:
                if key not in allowed:
                    raise unknown_key_error(ConfigError, table, key, allowed, source=file)
        data[table] = dict(content)
    origins: dict[tuple[str, str], str] = {}
    known_overrides = override_keys()
    for name, value in (overrides or {}).items():
        if value is None:
            continue
        if name not in known_overrides:
            raise ValueError(f"unknown study override {name!r}")
        table, key = known_overrides[name]
        data.setdefault(table, {})[key] = value
        origins[(table, key)] = "--" + name.replace("_", "-")
    r = _Reader(file, origins)
    base = file.resolve().parent

    study = data.get("study", {})
    data_t = data.get("data", {})
    fid = data.get("fidelity", {})
    budget = data.get("budget", {})
    device = data.get("device", {})

    def get(table: dict[str, Any], tname: str, key: str, default: Any, check: Callable[[Any], Any], allowed: str) -> Any:
        if key not in table:
            return default
        value = table[key]
        try:
            out = check(value)
        except (TypeError, ValueError):
            out = None
        if out is None:
            raise r.fail(tname, key, value, allowed)
        return out

    def as_str(v: Any) -> str | None:
        return v if isinstance(v, str) and v.strip() else None

    def choice(options: tuple[str, ...]) -> Callable[[Any], Any]:
        return lambda v: v if isinstance(v, str) and v in options else None

    def pos_int(lo: int = 1, hi: int = 10**9) -> Callable[[Any], Any]:
        def check(v: Any) -> Any:
            if isinstance(v, str) and re.fullmatch(r"\s*\d+\s*", v):
                v = int(v)
            return v if _is_int(v) and lo <= v <= hi else None

        return check

    def fraction(lo_open: bool = True, hi_closed: bool = True, hi: float = 1.0) -> Callable[[Any], Any]:
        def check(v: Any) -> Any:
            if isinstance(v, str):
                v = float(v)
            if not _is_num(v):
                return None
            v = float(v)
            ok_lo = v > 0.0 if lo_open else v >= 0.0
            ok_hi = v <= hi if hi_closed else v < hi
            return v if ok_lo and ok_hi else None

        return check

    def seconds(v: Any) -> Any:
        if isinstance(v, str):
            v = _parse_seconds(v)
        return float(v) if _is_num(v) and 0 < float(v) <= 10 * 365 * 86400 else None

    def boolean(v: Any) -> Any:
        if isinstance(v, str) and v.lower() in ("true", "false"):
            return v.lower() == "true"
        return v if isinstance(v, bool) else None

    # [study]
    name = get(study, "study", "name", None, lambda v: v if isinstance(v, str) and re.fullmatch(NAME_PATTERN, v) else None,
               f"a name of {NAME_RULE}")
    if name is None:
        name = _default_name(file)
    if "space" not in study:
        raise ConfigError(f"{file}: study.space is missing: name the search-space file (relative to the study file)")
    space = get(study, "study", "space", None, as_str, "a path to a search-space TOML file")
    space_path = (base / space).resolve() if not Path(space).is_absolute() else Path(space)
    problem = input_file_problem(space_path, missing="does not exist", expected="a search-space .toml file")
    if problem:
        raise r.fail("study", "space", space, f"the file {clip(str(space_path))} {problem}")
    space_sha = space_sha256(space_path)
    known_strategies = strategy_names()
    strategy = get(study, "study", "strategy", "direct", choice(known_strategies), f"one of {', '.join(known_strategies)}")
    seed = get(study, "study", "seed", 0, pos_int(0, 2**31 - 1), "an integer in 0..2147483647")
    n_trials = get(study, "study", "n_trials", None, pos_int(1, 10**7), "an integer in 1..10000000")
    timeout = get(study, "study", "timeout", None, seconds, "a positive number of seconds, or a string like '30m', '2h'")
    if n_trials is None and timeout is None:
        n_trials = 20
    storage = get(study, "study", "storage", None, as_str, "an SQLAlchemy URL (sqlite:///x.db, postgresql+psycopg://...)")
    if storage is None:
        storage = default_storage_url(file)
    else:
        if not re.match(r"^[a-z][a-z0-9+]*://", storage):
            raise r.fail("study", "storage", redact_url(storage), "an SQLAlchemy URL (sqlite:///x.db, postgresql+psycopg://...)")
        storage = _resolve_sqlite(storage, base)
    sampler = get(study, "study", "sampler", "tpe", choice(SAMPLERS), f"one of {', '.join(SAMPLERS)}")

    allowed_objectives = objective_names()

    def objectives_check(v: Any) -> Any:
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not v or v[0] != PRIMARY_OBJECTIVE:
            return None
        if any(o not in allowed_objectives for o in v) or len(set(v)) != len(v):
            return None
        return tuple(v)

    objectives = get(study, "study", "objectives", (PRIMARY_OBJECTIVE,), objectives_check,
                     f"a list starting with {PRIMARY_OBJECTIVE!r}, then any of {', '.join(allowed_objectives[1:])}, "
                     "no repeats")
    multi = len(objectives) > 1
    pruner = get(study, "study", "pruner", "none" if multi else "median", choice(PRUNERS), f"one of {', '.join(PRUNERS)}")
    if multi and pruner not in MO_PRUNERS:
        raise r.fail("study", "pruner", pruner,
                     f"'none' or 'pareto' with several objectives {list(objectives)} (Optuna cannot prune "
                     "multi-objective trials; 'pareto' is mgsearch's pruner for them)")
    if not multi and pruner == "pareto":
        raise r.fail("study", "pruner", pruner,
                     "one of hyperband, successive-halving, median, none with the single objective 'val_acc' "
                     "('pareto' needs several objectives, e.g. objectives = [\"val_acc\", \"params\"])")
    pruning = data.get("pruning", {})
    if pruning and pruner != "pareto":
        raise ConfigError(f"{file}: [pruning] applies to pruner = \"pareto\" only (multi-objective studies); "
                          f"study.pruner={clip_repr(pruner)}: remove [pruning] or set pruner = \"pareto\"")
    margin = get(pruning, "pruning", "margin", 0.01, fraction(lo_open=False, hi_closed=False),
                 "a number in [0, 1) (validation accuracy as a fraction: 0.01 is one point)")
    startup_trials = get(pruning, "pruning", "startup_trials", 5, pos_int(1, 10000), "an integer in 1..10000")
    repair = get(study, "study", "repair", False, boolean, "true or false")
    fill_budget = get(study, "study", "fill_budget", not multi, boolean, "true or false")
    if multi and fill_budget:
        raise r.fail("study", "fill_budget", fill_budget,
                     f"false with several objectives {list(objectives)} (a multi-objective study keeps its "
                     "candidates unscaled: its front needs every size)")
    heartbeat = get(study, "study", "heartbeat_interval", 30, pos_int(1, 3600), "an integer number of seconds in 1..3600")
    grace = get(study, "study", "grace_period", max(120, 2 * heartbeat), pos_int(1, 86400), "an integer number of seconds in 1..86400")
    if grace <= heartbeat:
        raise r.fail("study", "grace_period", grace, f"more seconds than heartbeat_interval={heartbeat}")
    max_retry = get(study, "study", "max_retry", 2, pos_int(0, 100), "an integer in 0..100")

    # [data]
    if "dataset" not in data_t:
        raise ConfigError(f"{file}: data.dataset is missing: name a dataset (fashion-mnist, cifar10, imagefolder, ...)")
    dataset = get(data_t, "data", "dataset", None, as_str, "a dataset name")
    root = get(data_t, "data", "root", None, as_str, "a path (relative to the study file)")
    if root is not None and ("data", "root") not in origins and not Path(root).is_absolute():
        root = str((base / root).resolve())
    val_fraction = get(data_t, "data", "val_fraction", 0.1, fraction(hi_closed=False, hi=0.9), "a number in (0, 0.9)")
    train_fraction = get(data_t, "data", "train_fraction", 1.0, fraction(), "a number in (0, 1]")

    # [fidelity]
    epochs = get(fid, "fidelity", "epochs", 5, pos_int(1, 10000), "an integer in 1..10000")
    batch_size = get(fid, "fidelity", "batch_size", 128, pos_int(1, 65536), "an integer in 1..65536")

    # [budget]: one limit per registered budget metric (max_params, max_macs, max_latency_ms, ...)
    from mgsearch.metrics import budget_metrics

    limits = {}
    for metric in budget_metrics():
        limit = get(budget, "budget", metric.budget_key, None, metric.parse_limit, metric.limit_rule)
        if limit is not None:
            limits[metric.name] = limit

    # [device]
    from mgsearch.devices import DEVICE_RULE, check_device_name  # the name's syntax; resolved at run time

    dev = get(device, "device", "name", "auto", check_device_name, DEVICE_RULE)
    threads = get(device, "device", "threads", None, pos_int(1, 1024), "an integer in 1..1024")

    # [baselines]
    def sizes_check(v: Any) -> Any:
        if isinstance(v, str):
            v = [float(x) for x in v.split(",") if x.strip()]
        if not isinstance(v, list) or not v or len(v) > 50:
            return None
        if not all(_is_num(x) and 0.05 <= float(x) <= 20 for x in v):
            return None
        return tuple(sorted({float(x) for x in v}))

    sizes = get(data.get("baselines", {}), "baselines", "sizes", (1.0,), sizes_check,
                "a non-empty list of budget fractions in [0.05, 20], e.g. [0.5, 1.0, 1.5]")

    # [confirm], [calibrate]: the final protocol and the sizes of confirm / calibrate runs
    conf = data.get("confirm", {})
    confirm_epochs = get(conf, "confirm", "epochs", None, pos_int(1, 10000), "an integer in 1..10000")
    confirm_fraction = get(conf, "confirm", "train_fraction", 1.0, fraction(), "a number in (0, 1]")
    confirm_top = get(conf, "confirm", "top", 3, pos_int(1, 1000), "an integer in 1..1000")
    confirm_seeds = get(conf, "confirm", "seeds", 3, pos_int(1, 100), "an integer in 1..100")
    cal = data.get("calibrate", {})
    calibrate_n = get(cal, "calibrate", "n", 12, pos_int(3, 10000), "an integer in 3..10000")
    calibrate_top_k = get(cal, "calibrate", "top_k", 3, pos_int(1, 10000), "an integer in 1..10000")

    recipe = data.get("recipe", {})
    _check_recipe(file, recipe)
    # the strategy's settings table ([lwdna]), parsed once here; another strategy's table is a mistake
    from mgsearch.strategies.registry import get_strategy

    chosen = get_strategy(strategy)
    for table, owner in strategy_tables.items():
        if table in data and owner != strategy:
            raise ConfigError(f"{file}: [{table}] is given but study.strategy={clip_repr(strategy)}; "
                              f"set strategy = \"{owner}\" or remove [{table}]")
    own_table = {chosen.table: data.get(chosen.table, {})} if chosen.table else {}
    settings = chosen.parse_settings(next(iter(own_table.values()), {}), source=str(file))

    return StudyConfig(
        path=file.resolve(), name=name, space=space, space_path=space_path, space_sha256=space_sha,
        strategy=strategy, seed=seed, n_trials=n_trials, timeout=timeout, storage=storage, sampler=sampler,
        pruner=pruner, pruning_margin=margin, pruning_startup_trials=startup_trials, objectives=objectives,
        repair=repair, fill_budget=fill_budget, fill_budget_default="fill_budget" not in study,
        heartbeat_interval=heartbeat, grace_period=grace,
        max_retry=max_retry, dataset=dataset, data_root=root, val_fraction=val_fraction,
        train_fraction=train_fraction, epochs=epochs, batch_size=batch_size, limits=limits, recipe=dict(recipe), device=dev, threads=threads,
        strategy_tables=own_table, strategy_settings=settings, baseline_sizes=sizes,
        confirm_epochs=confirm_epochs, confirm_train_fraction=confirm_fraction, confirm_top=confirm_top,
        confirm_seeds=confirm_seeds, calibrate_n=calibrate_n, calibrate_top_k=calibrate_top_k,
    )


def _default_name(file: Path) -> str:
    """The study name taken from the file name (``runs/cifar.toml`` -> ``cifar``); a file name that
    breaks the naming rule is an error (never silently changed: the name finds the study again)."""
    name = file.stem
    if re.fullmatch(NAME_PATTERN, name):
        return name
    suggestion = re.sub(r"[^A-Za-z0-9_.\-]", "_", name)[:100] or "study"
    raise ConfigError(
        f"{file}: the study name defaults to the file name {clip_repr(name)}, which breaks the naming rule "
        f"({NAME_RULE}); set [study] name = {suggestion!r} (or --name) or rename the file"
    )


def _check_recipe(file: Path, recipe: Mapping[str, Any]) -> None:
    """Check ``[recipe]`` keys and values by building :class:`mgsearch.training.recipe.Recipe` (torch-free)."""
    if not recipe:
        return
    from mgsearch.training.recipe import Recipe

    known = {f.name for f in dataclasses.fields(Recipe)}
    for key in recipe:
        if key not in known:
            raise unknown_key_error(ConfigError, "recipe", key, sorted(known), source=file)
    try:
        Recipe(**recipe)
    except ConfigError as exc:
        raise ConfigError(f"{file}: recipe: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{file}: [recipe] is not allowed: {exc}") from None
