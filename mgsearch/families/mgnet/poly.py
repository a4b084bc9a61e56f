"""Poly-MgNet's smoother as a level form of ``mgnet`` (``Stage.block = "poly"``).

Reference: vanbetteray/Poly-MgNet, ``models/mgnet_poly.py`` (``MgBlock_poly``) with the settings of
its ``train_routine_MgNet_poly.py``: ``linear_type = "outside"``, ``residual_type = "bn_only"``,
polynomial ``B`` of degree 1, one trainable scalar per step, ``A`` shared per level. On a level of
width ``c`` (``f`` and ``u`` both have ``c`` channels: ``B`` is a polynomial in ``A``, so ``blocks[j].inner
== stage.width``)::

    step j:        u <- relu(bn_u_j(u + alpha_j * bn_r_j(f - A u)))       alpha_j: a trainable scalar
    into level l:  u' = Pi(u)                      Pi: 3x3, stride, groups gcd(c_{l-1}, c_l), no BN
                   f' = R(relu(f - A u)) + A' u'   R: 3x3, stride, groups gcd(f_{l-1}, c_l), no BN

(``Pi``, ``R`` are the authors' depthwise ``convI``, ``convR``: ``groups = c_in``, which is
``gcd(c_in, c_out)`` whenever ``c_out`` is a multiple of ``c_in``, the only case their code builds.)
The polynomial of degree 1 in their default ("regular" perspective of ``LinearPolyStep``) is the
scalar ``alpha_j`` itself: ``B = alpha_j I``. As in the rest of ``mgnet``, nothing is computed for
nothing: the first step of level 0 uses ``f`` (``A 0 = 0``), the first step of a later level reuses
``A' u'`` from the transfer, and the last level's final ``f - A u`` (the authors compute it and
drop it) is not computed. The scalars start at 1 (the authors draw ``1/x`` with
``x ~ U(-1, 1) * sqrt(6 / 2c)``, unbounded).

Levels of this form may follow or precede ordinary ``mgnet`` levels: a level's transfer is the one
of its own form (the authors' depthwise one into a poly level, ``relu(bn(Pi u))`` /
``relu(bn(R(f - A u))) + A' u'`` into an ordinary level). Pure Python: the torch modules are in
:mod:`mgsearch.families.mgnet.modules`.
"""

from __future__ import annotations

from math import gcd
from typing import Any

from mgsearch.families.family import BlockForm
from mgsearch.families.form_rules import check_tied_stage, tied_width_slot
from mgsearch.layers.accounting import LayerCost, bn_row, conv_row
from mgsearch.spec import Stage, WidthSlot

__all__ = ["PolyForm", "POLY", "poly_transfer_rows", "poly_step_rows", "scale_row"]


def scale_row(name: str, size: int) -> LayerCost:
    """A trainable scalar (one parameter, no MACs: fvcore counts no elementwise product)."""
    return LayerCost(name, "scale", 1, 1, 1, 1, 1, size, 1, 0, 0, None)


def poly_transfer_rows(level: int, c_prev: int, f_prev: int, width: int, stride: int, size: int) -> list[LayerCost]:
    """``Pi`` and ``R`` into poly level ``level`` from a ``size x size`` level of ``c_prev`` (u) and
    ``f_prev`` (f) channels (the A applications around them are the family's rows)."""
    return [
        conv_row(f"stages.{level}.Pi", c_prev, width, 3, stride, size, groups=gcd(c_prev, width)),
        conv_row(f"stages.{level}.R", f_prev, width, 3, stride, size, groups=gcd(f_prev, width)),
    ]


def poly_step_rows(level: int, j: int, width: int, size: int) -> list[LayerCost]:
    """Step ``j``'s BN of the residual, its scalar and the BN of the new ``u`` (A: the family's rows)."""
    return [bn_row(f"stages.{level}.bn_r.{j}", width, size), scale_row(f"stages.{level}.alpha.{j}", size),
            bn_row(f"stages.{level}.bn_u.{j}", width, size)]


class PolyForm(BlockForm):
    """The ``poly`` level form of ``mgnet`` (see the module docstring). The family computes its
    levels (the transfer into a level needs the level before): :meth:`stage_complexity` and
    :meth:`build_stage` are not used by a levels family."""

    name = "poly"
    description = ("Poly-MgNet's smoother (vanbetteray/Poly-MgNet mgnet_poly.py): B = a trainable scalar "
                   "per step (degree-1 polynomial), A shared per level, depthwise strided R and Pi")
    allows_group_size = False
    ties_inner_to_width = True
    forces_share_one = True

    def validate_stage(self, path: str, stage: Stage, c_in: int) -> None:
        check_tied_stage(path, stage, self.name, share_why="each step has its own scalar",
                         inner_why="a poly level's f and u have one width (B is a polynomial in A)")

    def stage_slots(self, i: int, stage: Stage) -> list[WidthSlot]:
        return [tied_width_slot(i, stage)]

    def stage_complexity(self, i: int, stage: Stage, c_in: int, size: int) -> list[LayerCost]:
        raise NotImplementedError("poly levels are costed by the mgnet family (mgnet/complexity.py)")

    def build_stage(self, i: int, stage: Stage, c_in: int, gate: Any) -> Any:
        raise NotImplementedError("poly levels are built by the mgnet family (mgnet/modules.py)")


POLY = PolyForm()
