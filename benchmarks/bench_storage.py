"""Storage throughput: trials/second with 1, 2, 4, 8 worker processes on PostgreSQL, and SQLite with 1.

Training is a no-op, so what is measured is the cost of the engine alone: sampling (TPE by default,
the mgsearch default), the storage round trips of one trial (create, heartbeat, parameter
suggestions, user attributes, constraint, finish) and the shared stop condition. Each worker is a
separate process (as on separate machines), loads the study by name and runs until the study holds
``--trials`` finished trials (Optuna's ``MaxTrialsCallback``, shared by all workers).

Two paths:

- ``--path raw`` (default): plain Optuna with mgsearch's storage settings (``RDBStorage`` with
  heartbeat, ``RetryHeartbeatStaleTrialCallback``, pool pre-ping) and an objective that writes what an
  mgsearch trial writes (``--params`` integer suggestions, a dozen user attributes including a spec
  JSON of about 1 kB, one constraint).
- ``--path mgsearch``: the real mgsearch worker loop (``mgsearch.search.run_search(worker=True)``:
  sampling through the search space, analytic cost, duplicate check, the storage contract's
  attributes, the shared n_trials stop) on the tiny MGIC space (``search_spaces/tiny.toml``) and a
  tiny image folder, with ``train_fn`` a no-op that returns a fixed result.

Usage (PostgreSQL from ``scripts/postgres.sh start`` or $MGSEARCH_TEST_POSTGRES_URL):

    python benchmarks/bench_storage.py --postgres-url URL --workers 1 2 4 8 --trials 300 --sqlite

Each configuration gets a fresh database. Results are printed as a table (and as JSON with --json).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HEARTBEAT_INTERVAL = 10
GRACE_PERIOD = 30


def make_storage(url: str):
    """Optuna RDB storage with the settings mgsearch uses for workers."""
    import warnings

    import optuna

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    kwargs = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        kwargs = {"connect_args": {"timeout": 60}}
    return optuna.storages.RDBStorage(
        url,
        engine_kwargs=kwargs,
        heartbeat_interval=HEARTBEAT_INTERVAL,
        grace_period=GRACE_PERIOD,
        heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3),
    )


def _raw_objective(n_params: int):
    spec_blob = json.dumps({"family": "resnet", "stages": [{"width": 16, "blocks": [{"inner": 16}] * 9}] * 3})

    def objective(trial) -> float:
        widths = [trial.suggest_int(f"w{i}", 4, 64, step=4) for i in range(n_params)]
        params = sum(widths) * 100
        constraint = float(params - 20_000)
        trial.set_user_attr("status", "trained")
        trial.set_user_attr("spec", spec_blob)
        trial.set_user_attr("spec_hash", f"{hash(tuple(widths)) & 0xFFFFFFFF:08x}")
        trial.set_user_attr("params", params)
        trial.set_user_attr("macs", params * 100)
        trial.set_user_attr("activations", params * 3)
        trial.set_user_attr("constraints", [constraint])
        trial.set_user_attr("strategy", "direct")
        trial.set_user_attr("fidelity", {"epochs": 1, "train_fraction": 1.0, "batch_size": 128})
        trial.set_user_attr("wall_seconds", 0.0)
        trial.set_user_attr("seed", trial.number)
        trial.set_user_attr("versions", {"mgsearch": "bench"})
        trial.set_constraint("max_params", constraint)
        return float(sum(widths)) / (64.0 * n_params)

    return objective


def _worker(url: str, study_name: str, trials: int, n_params: int, start_at: float, out: mp.Queue) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = make_storage(url)
    study = optuna.load_study(study_name=study_name, storage=storage)
    objective = _raw_objective(n_params)
    stop = optuna.study.MaxTrialsCallback(trials, states=None)
    time.sleep(max(0.0, start_at - time.time()))
    t0 = time.time()
    done = 0

    def count(study, trial) -> None:
        nonlocal done
        done += 1

    study.optimize(objective, callbacks=[stop, count], gc_after_trial=False)
    out.put({"start": t0, "end": time.time(), "trials": done})


def _noop_train(spec, dataset, **kwargs):  # noqa: ANN001 - the signature of mgsearch.train.train
    from types import SimpleNamespace

    return SimpleNamespace(val_acc=0.5, history=[], train_seconds=0.0, images_per_second=0.0)


def _mgsearch_config(study_file: str, url: str, trials: int):
    from mgsearch.study import load_study_config

    return load_study_config(study_file, {"storage": url, "n_trials": trials})


def _mgsearch_worker(url: str, study_file: str, trials: int, start_at: float, out: mp.Queue) -> None:
    from mgsearch.search.runner import prepare, run_search

    config = _mgsearch_config(study_file, url, trials)
    prepared = prepare(config)
    time.sleep(max(0.0, start_at - time.time()))
    t0 = time.time()
    result = run_search(config, worker=True, progress=False, train_fn=_noop_train, prepared=prepared)
    out.put({"start": t0, "end": time.time(), "trials": result.extra.get("trials_run_here", 0)})


def write_study_file(folder: Path, sampler: str, seed: int) -> str:
    """A study file on the tiny MGIC space and a tiny image folder (no training happens)."""
    from tests.fixtures.datasets import write_image_folder

    data = write_image_folder(folder / "data")
    path = folder / "bench.toml"
    path.write_text(
        f'[study]\nname = "bench-storage"\nspace = "{ROOT / "search_spaces" / "tiny.toml"}"\nseed = {seed}\n'
        f'sampler = "{sampler}"\npruner = "none"\n'
        f'[data]\ndataset = "imagefolder"\nroot = "{data}"\nval_fraction = 0.25\n'
        f"[fidelity]\nepochs = 1\nbatch_size = 16\n[budget]\nmax_params = 1000000\n"
        f'[device]\nname = "cpu"\nthreads = 1\n'
    )
    return str(path)


def run_mgsearch_config(url: str, workers: int, trials: int, study_file: str) -> dict:
    """The mgsearch worker loop with no-op training on the (empty) storage ``url``."""
    from mgsearch.search.runner import open_study, prepare, quiet_optuna
    from mgsearch.search.storage import storage_for

    quiet_optuna(False)
    config = _mgsearch_config(study_file, url, trials)
    dataset, _, _ = prepare(config)
    open_study(storage_for(config), config, dataset, create=True, seed=config.seed)
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    start_at = time.time() + 8.0 + 1.0 * workers  # every worker imported torch and loaded the data first
    procs = [ctx.Process(target=_mgsearch_worker, args=(url, study_file, trials, start_at, out))
             for _ in range(workers)]
    for p in procs:
        p.start()
    results = [out.get(timeout=3600) for _ in procs]
    for p in procs:
        p.join()
    return _summarise(url, "bench-storage", workers, "mgsearch", results)


def _summarise(url: str, study_name: str, workers: int, label: str, results: list[dict]) -> dict:
    import optuna

    storage = make_storage(url)
    study = optuna.load_study(study_name=study_name, storage=storage)
    trials = study.get_trials(deepcopy=False)
    complete = sum(t.state.name in ("COMPLETE", "PRUNED") for t in trials)
    statuses: dict[str, int] = {}
    for t in trials:
        key = t.user_attrs.get("status") or t.state.name.lower()
        statuses[key] = statuses.get(key, 0) + 1
    storage.engine.dispose()
    wall = max(r["end"] for r in results) - min(r["start"] for r in results)
    return {
        "backend": url.split(":", 1)[0],
        "workers": workers,
        "path": label,
        "trials_complete": complete,
        "statuses": statuses,
        "per_worker": [r["trials"] for r in results],
        "wall_s": round(wall, 3),
        "trials_per_s": round(complete / wall, 2),
    }


def run_config(url: str, workers: int, trials: int, n_params: int, sampler: str, seed: int) -> dict:
    """Run one configuration on the (empty) storage ``url``; return its measurements."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    samplers = {
        "tpe": lambda: optuna.samplers.TPESampler(seed=seed),
        "random": lambda: optuna.samplers.RandomSampler(seed=seed),
    }
    study_name = "bench-storage"
    optuna.create_study(study_name=study_name, storage=make_storage(url), sampler=samplers[sampler](), direction="maximize")
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    start_at = time.time() + 4.0 + 0.5 * workers  # every worker imported and connected before the clock starts
    procs = [
        ctx.Process(target=_worker, args=(url, study_name, trials, n_params, start_at, out)) for _ in range(workers)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=3600) for _ in procs]
    for p in procs:
        p.join()
    return _summarise(url, study_name, workers, "raw", results)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--postgres-url", default=os.environ.get("MGSEARCH_TEST_POSTGRES_URL"))
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--trials", type=int, default=300, help="finished trials per configuration")
    ap.add_argument("--params", type=int, default=12, help="integer suggestions per trial")
    ap.add_argument("--sampler", choices=["tpe", "random"], default="tpe")
    ap.add_argument("--sqlite", action="store_true", help="also run SQLite with 1 worker")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--path", choices=["raw", "mgsearch"], default="raw",
                    help="raw: plain Optuna objective; mgsearch: the mgsearch worker loop with no-op training")
    ap.add_argument("--json", type=Path, help="write the results here as JSON")
    args = ap.parse_args(argv)
    scratch = tempfile.TemporaryDirectory()
    study_file = write_study_file(Path(scratch.name), args.sampler, args.seed) if args.path == "mgsearch" else ""

    def one(url: str, n: int) -> dict:
        if args.path == "mgsearch":
            return run_mgsearch_config(url, n, args.trials, study_file)
        return run_config(url, n, args.trials, args.params, args.sampler, args.seed)

    rows = []
    if args.postgres_url:
        from tests.fixtures.postgres import create_database, drop_database

        for n in args.workers:
            db = create_database(args.postgres_url, prefix="mgs_bench")
            try:
                rows.append(one(db, n))
            finally:
                drop_database(args.postgres_url, db)
            print(json.dumps(rows[-1]), flush=True)
    else:
        print("no --postgres-url and no $MGSEARCH_TEST_POSTGRES_URL: skipping PostgreSQL", file=sys.stderr)
    if args.sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            rows.append(one(f"sqlite:///{tmp}/bench.db", 1))
        print(json.dumps(rows[-1]), flush=True)

    print()
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.node()}, {os.cpu_count()} CPUs, "
          f"python {platform.python_version()}, path {args.path}, sampler {args.sampler}, {args.trials} trials")
    print("| path | backend | workers | finished trials | statuses | wall s | trials/s |")
    print("|---|---|---:|---:|---|---:|---:|")
    for r in rows:
        st = ", ".join(f"{k} {v}" for k, v in sorted(r["statuses"].items()))
        print(f"| {r['path']} | {r['backend']} | {r['workers']} | {r['trials_complete']} | {st} | {r['wall_s']} "
              f"| {r['trials_per_s']} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
