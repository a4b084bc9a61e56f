"""The MgNet families (``mgnet``, ``mgiad``): one smoothing-step implementation over grid levels.

* :mod:`.complexity`: analytic per-level cost rows (pure Python);
* :mod:`.modules`: the torch modules (imported by ``build`` only);
* :mod:`.family`: the registered :class:`~mgsearch.families.family.Family` objects.
"""
