"""The sweep: an Optuna study in DIR whose trials are `gantool train` children.

The main thread asks Optuna for a trial, checks its options with train's --dry-run and hands it
to one of --jobs worker threads; each worker runs one child (runner.py) and reports the
headline metric at fixed CPU-second marks, so the pruner compares trials at equal CPU time.
The study lives in DIR/study.log (Optuna's JournalStorage), so --resume continues it; a trial
that a Ctrl-C stopped is queued again with the same options. After the trials, the best
--leaders configurations are re-run at --leader-seeds more seeds.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import statistics
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path

from gantool.errors import GantoolError, UsageError
from gantool.sweep import options as train_opts
from gantool.sweep import runner, space

HUGE_STEPS = 1_000_000_000  # the budget, not --steps, ends a trial
MARKS = 10  # the pruner sees the headline at every tenth of the budget (in whole CPU-seconds)
WARMUP = 0.25  # no trial is pruned in the first quarter of its budget
STUDY_FILE = "study.log"
SETTINGS_FILE = "sweep.json"
# What must be the same for --resume to continue a sweep (trials and leaders may grow).
SAME_ON_RESUME = ("space", "fixed", "budget_s", "eval_every", "pruner", "seed", "threads")


class Interrupted(GantoolError):
    exit_code = 130


@dataclass
class Settings:
    out: str
    space: dict
    fixed: list[str]
    trials: int
    budget_s: float
    eval_every: int
    jobs: int = 1
    threads: int = 1
    seed: int = 0
    leaders: int = 0
    leader_seeds: int = 0
    pruner: str = "median"
    evaluate: str | None = None


@dataclass
class Metric:
    """The headline of --eval-every on this data and which way is better."""
    name: str  # "fid" or "modes"
    direction: str  # "minimize" or "maximize"
    label: str

    def value(self, record: dict) -> float | None:
        if self.name == "fid":
            return record.get("fid")
        if record.get("modes") is None:
            return None
        # More modes always wins; equal modes are ordered by the high-quality share (<= 0.5).
        return record["modes"] + 0.5 * (record.get("high_quality") or 0.0)


def metric_for(resolved: dict) -> Metric:
    """FID on digits, modes on the 2-D mixtures; refused where --eval-every has no metric."""
    from gantool.train import evals

    name = resolved["dataset"]
    if name in evals.DIGIT_DATASETS:
        return Metric("fid", "minimize", "FID (digits), lower is better")
    from gantool.data import load_dataset

    data = load_dataset(name, root=resolved.get("data_root"), seed=resolved.get("seed", 0))
    if evals.eval_kind(name, data) == "mixture":
        return Metric("modes", "maximize",
                      "modes hit + half the high-quality share, higher is better")
    raise UsageError(f"gantool sweep scores trials with train --eval-every, which has no "
                     f"metric for {name}: it is for digits at 28x28 (mnist-5k, mnist, "
                     "stacked-mnist) and 2-D mixtures with known modes (ring8, grid25)")


class Sweep:
    def __init__(self, settings: Settings, resume: bool, say: Callable[[str], None]):
        self.s, self.say = settings, say
        self.out = Path(settings.out)
        self._check_out(resume)
        self.dims = space.parse_space(settings.space)
        self.base = self._check_fixed()
        self.metric = metric_for(self.base)
        space.check_candidates(self.dims, settings.fixed)
        self.stop = threading.Event()
        self.study = self._open_study()

    # ---- setup
    def _check_out(self, resume: bool) -> None:
        """--out holds no sweep (a new one), or this one's (--resume, the same settings)."""
        settings_path = self.out / SETTINGS_FILE
        if resume:
            if not settings_path.exists():
                raise UsageError(f"--resume: {self.out} holds no sweep ({SETTINGS_FILE} is "
                                 "missing); leave out --resume to start one")
            saved = json.loads(settings_path.read_text())
            changed = [k for k in SAME_ON_RESUME if saved.get(k) != asdict(self.s).get(k)]
            if changed:
                raise UsageError(f"--resume: {', '.join(changed)} differ from the sweep in "
                                 f"{self.out}; give the same ones (see {settings_path})")
        elif settings_path.exists() or (self.out / STUDY_FILE).exists():
            raise UsageError(f"{self.out} already holds a sweep; add --resume to continue it "
                             "or choose another --out")

    def _check_fixed(self) -> dict:
        known = train_opts.train_options()
        fixed_names = train_opts.given(self.s.fixed)
        for name in sorted(fixed_names):
            train_opts.check_name(name, known, "options after --")
        for dim in self.dims:
            if dim.key.partition(".")[0] in fixed_names and "." not in dim.key:
                raise UsageError(f"--{dim.key} is both in SPACE.toml and after --; "
                                 "give it in one place")
        try:
            return train_opts.dry_run(self.s.fixed)
        except UsageError as exc:
            raise UsageError(f"options after --: {exc}") from None

    def _open_study(self):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        settings_path = self.out / SETTINGS_FILE
        self.out.mkdir(parents=True, exist_ok=True)
        settings_path.write_text(json.dumps(asdict(self.s), indent=2) + "\n")
        storage = JournalStorage(JournalFileBackend(str(self.out / STUDY_FILE)))
        warmup = int(self.s.budget_s * WARMUP)
        pruner = {"median": lambda: optuna.pruners.MedianPruner(n_startup_trials=2,
                                                                  n_warmup_steps=warmup),
                  "halving": lambda: optuna.pruners.SuccessiveHalvingPruner(
                      min_resource=max(1, warmup), reduction_factor=3),
                  "none": optuna.pruners.NopPruner}[self.s.pruner]()
        study = optuna.create_study(study_name="sweep", storage=storage, load_if_exists=True,
                                    direction=self.metric.direction, pruner=pruner)
        # Seeded by the trials so far: a resumed sweep draws on, rather than repeating the
        # first trials' draws, and the same history resumes to the same draws.
        study.sampler = optuna.samplers.TPESampler(
            seed=self.s.seed + len(study.get_trials(deepcopy=False)), n_startup_trials=5)
        self._requeue_stale(study)
        return study

    def _requeue_stale(self, study) -> None:
        """Trials left running by a sweep that was killed: failed, and queued again."""
        from optuna.trial import TrialState

        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            study.tell(t.number, state=TrialState.FAIL)
            study.enqueue_trial(t.params)

    # ---- the trials
    def run(self) -> None:
        """Run the remaining trials, then the leaders; Ctrl-C stops all, resumable."""
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
        try:
            self._trials()
            self._leaders()
        except KeyboardInterrupt:
            self.stop.set()
            raise Interrupted(f"interrupted; the trials so far are in {self.out}; continue "
                              "with the same command and --resume") from None
        finally:
            signal.signal(signal.SIGTERM, previous)

    def done(self) -> int:
        return sum(1 for t in self.study.get_trials(deepcopy=False)
                   if t.state.is_finished() and not t.user_attrs.get("interrupted"))

    def _trials(self) -> None:
        remaining = self.s.trials - self.done()
        running: dict = {}
        with ThreadPoolExecutor(self.s.jobs) as pool:
            try:
                while remaining > 0 or running:
                    while remaining > 0 and len(running) < self.s.jobs:
                        remaining -= 1
                        trial, args = self._ask()
                        if args is not None:
                            running[pool.submit(self._run_trial, trial, args)] = trial
                    if running:
                        finished, _ = wait(running, return_when=FIRST_COMPLETED)
                        for future in finished:
                            self._tell(running.pop(future), future.result())
            except KeyboardInterrupt:
                self.stop.set()
                for future, trial in running.items():
                    self._tell(trial, future.result())
                raise

    def _ask(self):
        """A new trial and its train arguments; one whose options fail --dry-run is failed."""
        from optuna.trial import TrialState

        trial = self.study.ask()
        values = {d.key: d.suggest(trial) for d in self.dims}
        args = space.render(values)
        trial.set_user_attr("args", args)
        try:
            train_opts.dry_run([*self.s.fixed, *args])
        except UsageError as exc:
            self._fail(trial, f"invalid options: {exc}")
            self.study.tell(trial, state=TrialState.FAIL)
            return trial, None
        self.say(f"trial {trial.number} started: {shlex.join(args)}")
        return trial, args

    def _fail(self, trial, error: str) -> None:
        trial.set_user_attr("error", error)
        self.say(f"trial {trial.number} failed: {error}")

    def _run_trial(self, trial, args: list[str]) -> runner.Outcome:
        marks = _Marks(self.s.budget_s, self.metric, trial)
        run_dir = self.out / "trials" / f"{trial.number:04d}"
        outcome = self._child(args, run_dir, marks.check)
        if outcome.state == "complete" and self.s.evaluate:
            self._evaluate(trial, run_dir)
        return outcome

    def _tell(self, trial, outcome: runner.Outcome) -> None:
        from optuna.trial import TrialState

        run_dir = self.out / "trials" / f"{trial.number:04d}"
        final = outcome.evals[-1] if outcome.evals else None
        value = self.metric.value(final) if final else None
        for key, attr in (("cpu_s", round(outcome.cpu_s, 2)), ("wall_s", round(outcome.wall_s, 1)),
                          ("steps", outcome.steps), ("evals", outcome.evals),
                          ("run_dir", str(run_dir)), ("exit_code", outcome.exit_code)):
            trial.set_user_attr(key, attr)
        if outcome.state == "interrupted":
            trial.set_user_attr("interrupted", True)
            self.study.tell(trial, state=TrialState.FAIL)
            self.study.enqueue_trial(trial.params)  # --resume runs it again, from the start
            self.say(f"trial {trial.number} interrupted (queued again for --resume)")
            return
        if outcome.state == "complete" and value is None:
            outcome.state, outcome.error = "failed", (
                "no evaluation: train was stopped before it could score its last step")
        where = f"{outcome.cpu_s:.1f} CPU-s, step {outcome.steps}"
        shown = f"{self.metric.name} {value:.4g}" if value is not None else "no evaluation"
        if outcome.state == "failed":
            self._fail(trial, outcome.error or "failed")
            self.study.tell(trial, state=TrialState.FAIL)
        elif outcome.state == "pruned":
            self.study.tell(trial, state=TrialState.PRUNED)
            self.say(f"trial {trial.number} pruned at {where}: {shown}")
        else:
            self.study.tell(trial, value)
            self.say(f"trial {trial.number} finished at {where}: {shown}")

    def _child(self, args: list[str], run_dir: Path, check) -> runner.Outcome:
        argv = [sys.executable, "-m", "gantool", "train", *self.s.fixed, *args,
                "--steps", str(HUGE_STEPS), "--eval-every", str(self.s.eval_every),
                "--run-dir", str(run_dir), "--runs-root", str(run_dir.parent)]
        threads = str(self.s.threads)
        env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
        return runner.run_train(argv, run_dir, budget_s=self.s.budget_s, env=env, check=check,
                                stop=self.stop)

    def _evaluate(self, trial, run_dir: Path) -> None:
        """--evaluate: gantool evaluate --run TRIAL ARGS --json, its result kept with the trial."""
        argv = [sys.executable, "-m", "gantool", "evaluate", "--run", str(run_dir),
                *shlex.split(self.s.evaluate), "--json"]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode == 0:
            trial.set_user_attr("evaluate", json.loads(done.stdout))
        else:
            line = (done.stderr.strip().splitlines() or ["no output"])[-1]
            trial.set_user_attr("evaluate_error", line)
            self.say(f"trial {trial.number}: --evaluate failed: {line}")

    # ---- the leaders
    def _leaders(self) -> None:
        """The best --leaders finished trials again at --leader-seeds more seeds each."""
        if not (self.s.leaders and self.s.leader_seeds):
            return
        jobs = [(t, seed) for t in self.best(self.s.leaders)
                for seed in range(self.base["seed"] + 1, self.base["seed"] + 1 + self.s.leader_seeds)]
        with ThreadPoolExecutor(self.s.jobs) as pool:
            futures = [pool.submit(self._leader_run, t, seed) for t, seed in jobs]
            try:
                for future in futures:
                    future.result()
            except KeyboardInterrupt:
                self.stop.set()
                raise

    def best(self, n: int) -> list:
        from optuna.trial import TrialState

        complete = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        sign = 1 if self.metric.direction == "minimize" else -1
        return sorted(complete, key=lambda t: (sign * t.value, t.number))[:n]

    def _leader_run(self, trial, seed: int) -> None:
        run_dir = self.out / "leaders" / f"{trial.number:04d}-seed{seed}"
        result = run_dir / "leader.json"
        if result.exists():
            return  # done before a --resume
        if run_dir.exists():  # stopped part-way: start this seed over
            import shutil

            shutil.rmtree(run_dir)
        args = [*trial.user_attrs["args"], "--seed", str(seed)]
        self.say(f"leader {trial.number} seed {seed} started")
        outcome = self._child(args, run_dir, lambda cpu, evals: False)
        if outcome.state == "interrupted":
            return
        final = outcome.evals[-1] if outcome.evals else None
        value = self.metric.value(final) if final else None
        record = {"trial": trial.number, "seed": seed, "state": outcome.state,
                  "value": value, "cpu_s": round(outcome.cpu_s, 2), "steps": outcome.steps,
                  "evals": outcome.evals, "error": outcome.error, "run_dir": str(run_dir)}
        result.write_text(json.dumps(record, indent=2) + "\n")
        shown = f"{self.metric.name} {value:.4g}" if value is not None else outcome.error
        self.say(f"leader {trial.number} seed {seed} {outcome.state}: {shown}")

    def leader_runs(self) -> list[dict]:
        # [0-9]*: not the runs-root's "latest" link that train keeps beside the runs
        return [json.loads(p.read_text())
                for p in sorted((self.out / "leaders").glob("[0-9]*-seed*/leader.json"))]


class _Marks:
    """Reports the latest evaluation at each mark (a tenth of the budget, in whole CPU-seconds)
    and asks the pruner: every trial is compared at the same CPU-seconds, never at equal steps."""

    def __init__(self, budget_s: float, metric: Metric, trial) -> None:
        self.every = max(1, int(budget_s // MARKS))
        self.next, self.metric, self.trial = self.every, metric, trial

    def check(self, cpu_s: float, evals: list[dict]) -> bool:
        reported = False
        while cpu_s >= self.next:
            seen = [e for e in evals if e["cpu_s"] <= self.next]
            value = self.metric.value(seen[-1]) if seen else None
            if value is not None:
                self.trial.report(value, self.next)
                reported = True
            self.next += self.every
        return reported and self.trial.should_prune()


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def spread(values: list[float]) -> dict:
    """Mean, standard deviation (n - 1) and range of one configuration's seeds."""
    return {"n": len(values), "mean": statistics.fmean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values)}


def collect(sweep: Sweep) -> dict:
    """results.json's content: the settings, the metric, every trial, the leaders."""
    from gantool.sweep import results

    rows = results.ordered(results.trial_records(sweep.study.get_trials()),
                           sweep.metric.direction)
    leaders = results.leader_summaries(rows, sweep.leader_runs(), spread)
    return {"settings": asdict(sweep.s), "metric": asdict(sweep.metric),
            "space": {d.key: d.describe() for d in sweep.dims}, "trials": rows,
            "leaders": leaders}


def write_outputs(sweep: Sweep) -> dict:
    """results.json, results.csv, table.md and frontier.png in DIR; returns the result."""
    from gantool.sweep import plot, results

    result = collect(sweep)
    results.write_all(sweep.out, result)
    plot.save_frontier(result, sweep.metric.value, sweep.out / "frontier.png")
    return result
