"""`gantool sweep`: a hyper-parameter search over `gantool train` at an equal CPU-time budget.

The search itself is Optuna's (sampler, pruner, journal storage); this package only feeds it:

  options.py   the real `gantool train` options: which exist, their types, and the
               `--dry-run` check of one trial's whole option list (in process, no CPU spent)
  space.py     SPACE.toml -> dimensions; one trial's values -> `gantool train` arguments
  cputime.py   a child process's CPU seconds (user + system), from /proc or psutil
  runner.py    one `gantool train` child: poll its CPU time and metrics.jsonl, report each
               evaluation, stop it (SIGINT: it saves and writes summary.json) on prune or budget
  study.py     the sweep: the Optuna study in DIR (resumable), J trials at once, the leaders
               re-run at more seeds
  results.py   results.json / results.csv / table.md
  plot.py      frontier.png: quality against CPU-seconds

Nothing here imports torch or optuna at import time; `gantool sweep` imports optuna when it runs.
"""
