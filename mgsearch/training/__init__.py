"""Parts of the training engine: :mod:`.recipe` (Fidelity, Recipe, schedules, optimiser) and
:mod:`.runtime` (devices, threads, autocast, evaluation). The entry point is :func:`mgsearch.train.train`."""
