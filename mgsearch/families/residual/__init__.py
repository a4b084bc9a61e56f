"""The ResNet-like families (``resnet``, ``mgic``, ``dacnn``): one basic-block implementation.

* :mod:`.complexity`: analytic per-block cost rows (pure Python);
* :mod:`.modules`: the torch modules (imported by ``build`` only);
* :mod:`.family`: the registered :class:`~mgsearch.families.family.Family` objects.
"""
