"""The scheduler: pbxbridge's periodic jobs, run on time, once, recorded, and told about.

- `cron`: cron expressions (croniter) in the service's timezone, DST days handled.
- `settings`: `[scheduler]` and the `[[jobs]]` entries.
- `defaults`: the default job tables (the embedded billing's jobs, Ubilling's crontab,
  pbxbridge's own housekeeping).
- `table`: the defaults merged with `[[jobs]]` into the jobs an instance runs.
- `job`: a job as the scheduler runs it (schedule, body, timeout, retries).
- `models`, `store`: the run history, the claim on each tick, the per-job lock.
- `runner`: one tick of one job: claim, attempts, record, alert (the CLI's `jobs run` too).
- `scheduler`: the background loop that starts each job on its ticks.
- `ubilling`: jobs that are Ubilling remoteapi actions.
- `retention`: the run history's rows that age out.

The job bodies are plain async functions of other rooms returning a JobResult
(primitives.job_result); the root (pbxbridge/job_table.py) binds them to their parts.
"""
