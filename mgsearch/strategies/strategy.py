"""The :class:`Strategy` protocol: where a trial's architecture comes from.

A strategy is an object, registered by name (:mod:`mgsearch.strategies.registry`); a study file
names it (``strategy = "lwdna"``) and the search asks it for each trial's candidate instead of
switching on the name:

* ``name`` (the study file's ``strategy`` value and the trials' ``strategy`` attribute),
  ``description`` (one line), ``table`` (the study-file table holding its settings, e.g.
  ``"lwdna"`` for ``[lwdna]``; None when it takes none) and ``searches`` (whether a study file may
  name it; False for strategies that commands such as ``mgsearch baseline`` drive);
* :meth:`Strategy.parse_settings` validates that table ONCE, when the study file is read (torch-free);
* :meth:`Strategy.propose` turns the sampler's answers (a chooser) into a :class:`Candidate`,
  given a :class:`StrategyContext` (the space, the budget, the data and training handles).

The objective trains and records whatever a strategy proposes: budget check, duplicates, training at
the study's fidelity, the storage contract. This module imports nothing heavy.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

from mgsearch.errors import ConfigError, clip
from mgsearch.spec import ArchSpec
# the trial attributes the objective writes itself (the storage contract): a candidate may not set them
from mgsearch.store.records import RESERVED_ATTRS

if TYPE_CHECKING:  # pragma: no cover
    from mgsearch.space import SearchSpace
    from mgsearch.space.choosers import Chooser

__all__ = ["Strategy", "Candidate", "StrategyContext", "RESERVED_ATTRS"]


@dataclass(frozen=True)
class Candidate:
    """What a strategy proposes for one trial.

    ``spec``: the network to train (the objective checks it against the budget); ``parent``: the
    network it was derived from, if any (stored as ``parent_spec``); ``attrs``: extra JSON-ready
    trial attributes of the strategy (LW-DNA's ``widen``, ``keep_ratio``, ``importance_seconds``,
    ...). Names of the storage contract (:data:`RESERVED_ATTRS`) are refused.
    """

    spec: ArchSpec
    parent: ArchSpec | None = None
    attrs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.spec, ArchSpec):
            raise TypeError(f"Candidate.spec must be an ArchSpec, not {type(self.spec).__name__}")
        if self.parent is not None and not isinstance(self.parent, ArchSpec):
            raise TypeError(f"Candidate.parent must be an ArchSpec or None, not {type(self.parent).__name__}")
        clash = sorted(RESERVED_ATTRS.intersection(self.attrs))
        if clash:
            raise ValueError(f"candidate attrs {clash} are written by the objective; choose other names")

    def trial_attrs(self) -> dict[str, Any]:
        """The attributes the trial stores for this candidate: ``attrs`` and ``parent_spec``."""
        out = dict(self.attrs)
        if self.parent is not None:
            out["parent_spec"] = self.parent.to_json()
        return out


@dataclass(frozen=True)
class StrategyContext:
    """What a strategy may use besides the chooser; built once per search run.

    * ``space``: the study's search space, shaped to the dataset (channels, classes, input size);
    * ``limits``: the study's budget, metric name -> limit (``{"params": 50000, "macs": 8e6}``);
      ``fits(spec) -> bool``: whether a spec meets its analytic limits (from the analytic cost);
    * ``settings``: the strategy's parsed settings (:meth:`Strategy.parse_settings` of its table);
    * ``source``: the study file, for messages;
    * ``dataset``, ``fidelity`` (``{"epochs", "train_fraction", "batch_size"}``), ``device`` (resolved),
      ``seed``: the study's data and protocol;
    * ``train``: ``train(spec, *, on_epoch=None) -> TrainResult``, training at the study's protocol
      (recipe, fidelity, seed, device, threads): the one training path of the search (None where
      no training is possible, e.g. when only specs are listed);
    * ``recipe``: the study's recipe table (``Recipe(**recipe)``); ``files_dir``: a folder next to the
      study database where a strategy may keep files across trials, workers and studies (oneshot: its
      supernets; None where the study has no database).
    """

    space: "SearchSpace"
    limits: Mapping[str, float] = field(default_factory=dict)
    fits: Callable[[ArchSpec], bool] = field(default=lambda spec: True)
    settings: Any = None
    source: str = "study"
    dataset: Any = None
    fidelity: Mapping[str, Any] = field(default_factory=dict)
    device: str = "cpu"
    seed: int = 0
    train: Callable[..., Any] | None = None
    recipe: Mapping[str, Any] = field(default_factory=dict)
    files_dir: str | None = None


class Strategy(ABC):
    """One way of choosing a trial's architecture (see the module docstring).

    Subclass it, set ``name`` / ``description`` (and ``table`` when it has settings), implement
    :meth:`propose` (and :meth:`parse_settings` when it has settings), and register an instance with
    :func:`~mgsearch.strategies.registry.register_strategy`. Strategies are stateless singletons:
    per-study state lives in the settings and the context.
    """

    name: str = ""
    description: str = ""
    #: the study-file table of its settings (``"lwdna"`` reads ``[lwdna]``); None: it takes none
    table: str | None = None
    #: whether a study file may name it (False: driven by a command, e.g. the uniform baselines)
    searches: bool = True
    #: whether ``fill_budget`` keeps every width of a candidate at most its ``parent``'s (oneshot: a
    #: supernet has no weights wider than its largest network)
    fit_within_parent: bool = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    def parse_settings(self, table: Mapping[str, Any], *, source: str) -> Any:
        """Validate the raw settings table (``{}`` when the study file has none) and return the
        settings object :meth:`propose` reads as ``context.settings``.

        Called once, when the study file is read; must not import torch or optuna. Every mistake is
        a one-line :class:`~mgsearch.errors.ConfigError` naming ``source``, ``<table>.<key>`` and the
        value. Default (no settings): an empty table gives None, any key is an error.
        """
        for key in table:
            raise ConfigError(f"{source}: {self.table or self.name}.{clip(key)} is not a known key: "
                              f"strategy {self.name!r} takes no settings")
        return None

    @abstractmethod
    def propose(self, chooser: "Chooser", context: StrategyContext) -> Candidate:
        """The candidate of one trial. ``chooser`` answers the knobs (an Optuna trial in a search:
        every name asked must keep its domain across trials); ``context`` is described above.

        A candidate over the budget is allowed (the objective records it as infeasible without
        training); a mistake in the study (e.g. a budget the strategy needs but lacks) is a
        :class:`~mgsearch.errors.ConfigError`."""

    def score(self, spec: ArchSpec, attrs: Mapping[str, Any], context: StrategyContext, *,
              on_epoch: Callable[[int, float], None] | None = None) -> Any:
        """How a feasible candidate is evaluated: None (the default) trains ``spec`` at the study's
        protocol; a strategy that scores otherwise (oneshot: on a supernet) returns an object with
        ``val_acc``, ``history``, ``train_seconds``, ``images_per_second`` and ``trial_attrs`` (stored
        with the trial, e.g. its ``fidelity``). ``attrs``: the trial's attributes so far (the
        candidate's among them)."""
        return None

    def score_fidelity(self, context: StrategyContext) -> dict[str, Any] | None:
        """What :meth:`score` measures when it evaluates a candidate without training it (oneshot: the
        supernet's training protocol and the scoring images, ``kind = "oneshot"``), as plain JSON
        values; None (the default) when candidates are trained. ``mgsearch calibrate`` takes such a
        score as its cheap side and this as that side's protocol."""
        return None
