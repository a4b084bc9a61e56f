"""The inverted-residual family ``mobilenet`` (MobileNetV2/V3 blocks) and its MGIC block form.

* :mod:`.complexity`: analytic per-block cost rows of the plain blocks (pure Python);
* :mod:`.vcycle`: the MGIC block form as the MGIC authors built it (``mobilenetv3_MG.py``; pure Python);
* :mod:`.modules`, :mod:`.vcycle_modules`: the torch modules (imported by ``build`` only);
* :mod:`.family`: the registered :class:`~mgsearch.families.family.Family` object.
"""
