"""The ground floor: kinds every room shares and that depend on no room.

- `clock`: the one clock (UTC instants for storage, local dates for rules), and a fixed
  one for tests.
- `phones`: the one phone-number normaliser.
- `errors`: the root of every room's error tree.
- `health`: how a running part says whether it can do its job (`Health`, `HealthCheck`).
- `job_result`: what a periodic job returns (a one-line summary and counts).

Nothing here imports a room; every room may import from here.
"""
