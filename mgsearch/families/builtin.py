"""THE place where the built-in families are registered (imported by the registry on first use).

To add a family or a block variant: write its module (a :class:`~mgsearch.families.family.Family`
subclass with ``complexity`` and ``build``, and an instance) and add the instance to
:data:`BUILTIN_FAMILIES`. The order here is the order of ``family_names()`` and of error messages.
"""

from __future__ import annotations

from mgsearch.families.mgnet.family import MGIAD, MGNET
from mgsearch.families.registry import register_family
from mgsearch.families.residual.family import DACNN, MGIC, RESNET

BUILTIN_FAMILIES = (RESNET, MGIC, DACNN, MGNET, MGIAD)

for _family in BUILTIN_FAMILIES:
    register_family(_family)
