"""The :class:`Family` protocol: everything mgsearch knows about one architecture family.

A family is an object, registered by name (:mod:`mgsearch.families.registry`); the rest of the
engine asks it questions instead of switching on the family's name:

* what a spec of it may hold (``allows_group_size``, ``allows_sharing``, :meth:`Family.validate`),
* which widths of a spec are independent (:meth:`Family.width_slots`, with ties and rounding),
* what a search space of it may ask for (:attr:`Family.knobs`),
* what a spec of it costs without building it (:meth:`Family.complexity`, pycls style: the
  per-layer rows, the fold of its blocks' rows) and the network itself (:meth:`Family.build`,
  which is the only member that imports torch).

The two topologies (:mod:`mgsearch.families.topology`) implement validation, width slots and knobs;
a concrete family adds its complexity and build. This module imports nothing heavy.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from mgsearch.families.base import MgsearchNet
    from mgsearch.layers.accounting import LayerCost
    from mgsearch.spec import ArchSpec, WidthSlot

__all__ = ["Family", "BlockForm", "SpaceKnobs", "RESNET_LIKE", "LEVELS", "dense_resnet"]

#: topology of the ResNet-like families: a residual stream per stage (``stage.width``), and per block
#: its own free width (``block.inner``)
RESNET_LIKE = "resnet-like"
#: topology of the MgNet families: stages are grid levels holding a solution ``u`` (``stage.width``)
#: and data ``f`` (``block.inner``: one width per level; level 0's is the stem width)
LEVELS = "levels"


@dataclass(frozen=True)
class SpaceKnobs:
    """What a search-space file of a family may ask for, beyond group sizes and sharing.

    ``per_layer_inner``: a stage's ``inner`` may be chosen per block (per sharing run) with
    ``inner.per_layer = true`` (the default then); when false, a stage has one inner width.
    ``stem_is_first_inner``: stage 0 has no ``inner`` knob: its blocks' inner width is the stem
    width, which is then a multiple of stage 0's group size.
    """

    per_layer_inner: bool
    stem_is_first_inner: bool


class Family(ABC):
    """One architecture family (or block variant of one): its rules, cost and network.

    Subclass a topology base (:class:`~mgsearch.families.topology.ResNetLikeFamily` or
    :class:`~mgsearch.families.topology.LevelsFamily`), implement :meth:`complexity` and
    :meth:`build`, and register an instance with
    :func:`~mgsearch.families.registry.register_family`.

    Members:

    * ``name``: the spec's ``family`` value (the registry key); ``description``: one line;
    * ``topology``: :data:`RESNET_LIKE` or :data:`LEVELS` (what ``stage.width`` / ``block.inner`` mean);
    * ``allows_group_size``: stages may use MGIC convs (``group_size`` not None);
    * ``allows_sharing``: stages may share conv weights (``share`` > 1);
    * ``knobs``: the search-space knobs of the topology (:class:`SpaceKnobs`);
    * ``allows_block_options``: blocks may set ``kernel`` / ``se`` / ``act``; ``conv_allows_group_size``:
      a ``"conv"`` stage may have a group size (class attributes, default False / True);
    * :meth:`validate`, :meth:`width_slots`, :meth:`complexity`, :meth:`build`.
    """

    topology: str
    knobs: SpaceKnobs
    #: blocks of this family may set ``kernel`` / ``se`` / ``act`` (inverted-residual families)
    allows_block_options: bool = False
    #: a stage of the family's own blocks (``block = "conv"``) may have a group size; False where only
    #: a block form gives a group size a meaning (``mobilenet``: its ``vcycle`` form)
    conv_allows_group_size: bool = True

    def __init__(
        self, *, name: str, description: str, allows_group_size: bool = False, allows_sharing: bool = False
    ) -> None:
        self.name = name
        self.description = description
        self.allows_group_size = allows_group_size
        self.allows_sharing = allows_sharing
        #: the block forms a stage of this family may choose (``Stage.block``) besides ``"conv"``
        self.block_forms: dict[str, BlockForm] = {}

    def add_block_form(self, form: "BlockForm") -> "BlockForm":
        """Let stages of this family choose ``form`` (``Stage.block = form.name``); a duplicate name
        is a ValueError. The family's ``complexity`` / ``build`` / ``width_slots`` ask the form for
        the stages that chose it."""
        if form.name in self.block_forms or form.name == "conv":
            raise ValueError(f"block form {form.name!r} is already registered in family {self.name!r}")
        self.block_forms[form.name] = form
        return form

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    def validate(self, spec: "ArchSpec") -> None:
        """Family-specific rules, after the generic checks of :class:`~mgsearch.spec.ArchSpec`
        (field types and ranges, group sizes and sharing allowed by the flags above, widths that are
        multiples of the group size, equal inner widths in a sharing run). Raise
        :class:`~mgsearch.errors.SpecError` naming the field path and the values. Default: no rule."""

    @abstractmethod
    def width_slots(self, spec: "ArchSpec") -> tuple["WidthSlot", ...]:
        """The independent widths of ``spec`` with their ties, in a fixed order."""

    @abstractmethod
    def complexity(self, spec: "ArchSpec") -> list["LayerCost"]:
        """Per-layer analytic cost rows, in forward order, without building anything.

        Each row's ``name`` is the module path in :meth:`build`'s network (tests check that the
        analytic params and MACs equal the built model's)."""

    @abstractmethod
    def build(self, spec: "ArchSpec") -> "MgsearchNet":
        """The freshly initialised network of ``spec`` (imports torch)."""

    def reference_networks(self, spec: "ArchSpec") -> dict[str, "ArchSpec"]:
        """The hand-designed networks a user would build instead of searching this family, in the
        macro structure of ``spec`` (a space's reference network: its stage count, depths, strides):
        label -> spec whose widths are the network's relative widths (a profile: ``mgsearch
        baseline`` scales them all by one factor onto the budget, ``mgsearch.strategies.uniform``). The labels name what each one is
        (``dense-resnet``), the baselines store them as ``<label>@budget``.

        Default: ``dense-resnet``, the He et al. CIFAR ResNet shape: a dense 3x3 stem and basic
        blocks (two dense 3x3 convs of the stage's width, no sharing), one stage per stage of
        ``spec`` with its depth and stride (:func:`dense_resnet`). A family adds its own (an
        inverted-residual family: the width-multiplier MobileNet) by overriding this and calling it."""
        return {"dense-resnet": dense_resnet(spec)}


def dense_resnet(spec: "ArchSpec") -> "ArchSpec":
    """The dense CIFAR ResNet (He et al. 2016, family ``resnet``) with ``spec``'s stage count,
    depths and strides, data shape and head: stem width ``w``, stage widths ``w * 2^k`` (``k`` = the
    stride-2 stages so far: 16/32/64 for ResNet-20 at ``w = 16``), every block's inner width its
    stage's, no MGIC convs, no sharing. The widths are a profile only (``w = 16``): the baselines
    scale them onto the budget."""
    from mgsearch.spec import ArchSpec, Block, Stage, Stem

    base, k, stages = 16, 0, []
    for stage in spec.stages:
        k += stage.stride == 2
        width = base * 2 ** k
        stages.append(Stage(width=width, blocks=tuple(Block(inner=width) for _ in stage.blocks), stride=stage.stride))
    return ArchSpec(family="resnet", stem=Stem(width=base), stages=tuple(stages), in_channels=spec.in_channels,
                    num_classes=spec.num_classes, input_size=spec.input_size, head=spec.head)


class BlockForm(ABC):
    """A block variant a stage may choose with ``Stage.block = name`` (the default ``"conv"`` is the
    family's own block). It owns the stage's rules, width ties, cost rows and modules:

    * :meth:`validate_stage`: rules of a stage of this form (SpecError naming ``path`` and the field);
    * :meth:`stage_slots`: the stage's width slots (ties of its own);
    * :meth:`stage_complexity`: the stage's cost rows (pure Python); :meth:`build_stage`: its modules.

    Register one on a family with :meth:`Family.add_block_form` (``mgsearch/families/builtin.py``).

    What search spaces need to know (declared, so the space code asks the form instead of assuming
    one; the defaults describe a form that behaves like ``"conv"``):

    * ``needs_group_size``: a stage of this form must have a group size (``vcycle``);
    * ``allows_group_size``: a stage of this form may have one (``anchored``: no);
    * ``ties_inner_to_width``: every block's inner width is the stage width (one width knob, no
      inner knobs);
    * ``forces_share_one``: ``share`` is 1 (no share knob);
    * ``uses_coarse_width``: the stage has a ``coarse_width`` (``vcycle``: the authors' mgFcChannel);
    * ``widths_multiple_of_group_size``: the stage's widths are multiples of its group size (default);
    * optional ``width_allowed(width, group_size, coarse_width) -> bool``: only the widths it accepts
      are drawn (absent: every multiple of the group size);
    * optional ``inner_allowed(inner, width, group_size, coarse_width) -> bool``: a drawn inner width it
      refuses is raised to the next multiple it accepts (mobilenet's ``vcycle``: ``inner >= 2^levels``).
    """

    name: str
    description: str
    needs_group_size: bool = False
    allows_group_size: bool = True
    ties_inner_to_width: bool = False
    forces_share_one: bool = False
    uses_coarse_width: bool = False
    #: the widths of a stage of this form must be multiples of its group size (mobilenet's vcycle: no,
    #: it has a width rule of its own, ``width_allowed``)
    widths_multiple_of_group_size: bool = True

    @abstractmethod
    def validate_stage(self, path: str, stage, c_in: int) -> None:  # noqa: ANN001
        """Raise SpecError when ``stage`` (entered with ``c_in`` channels) is not a valid stage of this form."""

    @abstractmethod
    def stage_slots(self, i: int, stage) -> list["WidthSlot"]:  # noqa: ANN001
        """The width slots of stage ``i`` (named and tied like the family's own)."""

    @abstractmethod
    def stage_complexity(self, i: int, stage, c_in: int, size: int) -> list["LayerCost"]:  # noqa: ANN001
        """Cost rows of stage ``i`` on a ``size x size`` input of ``c_in`` channels, in forward order."""

    @abstractmethod
    def build_stage(self, i: int, stage, c_in: int, gate):  # noqa: ANN001, ANN201
        """The torch module of stage ``i``; ``gate(path, bn)`` records the BNs of each width slot."""
