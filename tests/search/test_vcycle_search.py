"""A tiny search on a space of MGIC V-cycle stages trains vcycle networks (2 trials, 1 epoch)."""

from __future__ import annotations

import optuna

from mgsearch.search import run_search
from mgsearch.study import load_study_config

TINY_VCYCLE_SPACE = """
family = "mgic"
in_channels = 3
num_classes = 3
input_size = 16

[stem]
width = 8

[[stages]]
stride = 1
depth = 1
width = { min = 8, max = 16, step = 8 }
inner = 8
group_size = 4
block = ["conv", "vcycle"]

[[stages]]
stride = 2
depth = 1
width = { min = 16, max = 32, step = 8 }
group_size = 8
block = "vcycle"
"""


def test_tiny_search_trains_a_vcycle_network(write_study, counting_train):
    path = write_study(study='n_trials = 2\nsampler = "random"\npruner = "none"', budget="max_params = 100000",
                       space=TINY_VCYCLE_SPACE)
    config = load_study_config(path, {})
    run_search(config, progress=False)
    trials = optuna.load_study(study_name="s", storage=config.storage).get_trials()
    assert len(trials) == 2 and any(t.user_attrs.get("status") == "trained" for t in trials)
    assert counting_train.calls >= 1  # a second draw of the same spec is a duplicate, not trained again
    assert all(spec.stages[1].block == "vcycle" for spec in counting_train.specs)
    assert all(t.params.get("s1.width@vcycle") in (16, 32) for t in trials)
