"""askozia_api: the faces that speak other systems' protocols, served from pbxbridge.

- remoteapi.py: Ubilling's remoteapi (`/?module=remoteapi&key=…`, at `/` and `/billing/`),
  answered from the configured billing byte for byte as Ubilling answers; on while
  `http.remoteapi_key` is set, money moves only with `http.remoteapi_money`.
- askozia.py: the Askozia PBX endpoints Ubilling before 1.5.9 polls (`/status_cdr.php`,
  `/external_get_info.php`), with HTTP Basic auth; on while `askozia.password` is set.
- cdr.py (CdrSource, the CSV), call_log_cdr.py (the source: the call log),
  status.py (the status line), php.py (PHP's ways of reading and printing), records.py
  (subscribers as Ubilling writes users), auth_log.py (failed logins, logged once per
  interval per client), deps.py (what the root passes in), settings.py (`[askozia]`).

The root mounts them (pbxbridge/webserver.py); this room imports billing_client,
callfile_spooler (callbacks) and call_log, never pbxbridge/
"""
