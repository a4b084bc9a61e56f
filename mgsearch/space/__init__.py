"""Search spaces: TOML files of knob ranges -> chooser (random or Optuna) -> ArchSpec.

* :class:`SearchSpace` (``from_file``, ``from_dict``, ``to_spec(chooser)``, ``sample``,
  ``min_spec``, ``max_spec``, ``knob_names``, ``with_overrides``);
* choosers: :class:`RandomChooser`, :class:`DictChooser`, the :class:`Chooser` protocol.

The file format is documented in ``docs/concepts.md`` and in :mod:`mgsearch.space.format`.
"""

from mgsearch.space.choosers import Chooser, DictChooser, RandomChooser
from mgsearch.space.core import SearchSpace
from mgsearch.space.format import FloatKnob, IntRange, StageSpace

__all__ = ["SearchSpace", "Chooser", "RandomChooser", "DictChooser", "IntRange", "FloatKnob", "StageSpace"]
