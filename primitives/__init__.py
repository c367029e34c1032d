"""The ground floor: kinds every room shares and that depend on no room.

- `clock`: the one clock (UTC instants for storage, local dates for rules), and a fixed
  one for tests.
- `phones`: the one phone-number normaliser.
- `errors`: the root of every room's error tree.
- `health`: how a running part says whether it can do its job (`Health`, `HealthCheck`).
- `job_result`: what a periodic job returns (a one-line summary and counts).
- `backoff`: the one backoff (growing delays with jitter, or computed from a count).
- `worker`: the one background loop (a step, a wait it chooses, wake-up, bounded stop).
- `lifecycle`: what a running component is, and the runner that starts a list of them in
  order and stops them in reverse, each stop bounded.
- `ami`: the shape of an AMI event consumer (the names it wants, its handler) and of the
  event it reads, so rooms hear AMI without importing the listener.

Nothing here imports a room; every room may import from here.
"""
