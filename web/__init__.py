"""web: the one aiohttp application of pbxbridge. Read web/README.md for the patterns.

- `settings`: `[http]` (HttpSettings).
- `app`: `build_app(WebParts)`: what is mounted where; `Mount` hooks for faces.
- `server`: `WebServer` (start/stop, the bound port).
- `middlewares`: request id, errors, body limits, security headers, bearer auth.
- `addresses`: `client_ip(request)`, the one reader of X-Forwarded-For.
- `errors`: the error tree and the JSON error shape.
- `tokens`: API tokens (table, store, scopes).
- `staff`: staff accounts of the admin pages (argon2); `keys`: keys kept in the database.
- `admin/`: the staff pages under /admin/ (sessions, CSRF, roles, layout, sections).
- `health`: /healthz; `metrics`: /metrics.
- `api/`: the REST API (`routing` declares routes, `openapi` documents them, `common`
  pages and dates, one module per resource).
"""
