"""THE place where the built-in families are registered (imported by the registry on first use).

To add a family: write its module (a :class:`~mgsearch.families.family.Family` subclass with
``complexity`` and ``build``, and an instance) and add the instance to :data:`BUILTIN_FAMILIES`.
To add a block form a stage may choose (``Stage.block``): write its module (a
:class:`~mgsearch.families.family.BlockForm` and an instance) and add ``(family, form)`` to
:data:`BUILTIN_BLOCK_FORMS`. The order here is the order of ``family_names()`` and of error messages.
"""

from __future__ import annotations

from mgsearch.families.mgnet.family import MGIAD, MGNET
from mgsearch.families.mgnet.poly import POLY
from mgsearch.families.mobilenet.family import MOBILENET
from mgsearch.families.mobilenet.vcycle import MOBILE_VCYCLE
from mgsearch.families.registry import register_family
from mgsearch.families.residual.anchored import ANCHORED
from mgsearch.families.residual.family import DACNN, MGIC, RESNET
from mgsearch.families.residual.plain import PLAIN, PLAIN_REG
from mgsearch.families.residual.vcycle import VCYCLE_FORMS

BUILTIN_FAMILIES = (RESNET, MGIC, DACNN, MGNET, MGIAD, MOBILENET)

#: block forms a stage may choose (``Stage.block``), per family: (family, form)
BUILTIN_BLOCK_FORMS = (*((MGIC, form) for form in VCYCLE_FORMS), (DACNN, ANCHORED), (DACNN, PLAIN), (DACNN, PLAIN_REG),
                       (MGNET, POLY), (MOBILENET, MOBILE_VCYCLE))

for _family, _form in BUILTIN_BLOCK_FORMS:
    _family.add_block_form(_form)
for _family in BUILTIN_FAMILIES:
    register_family(_family)
