"""sms: the inbox (chan_dongle/chan_quectel events, the `sms_in` FastAGI route, multipart,
deduplication, auto-replies) and the persistent outbox (`*SendSMS`, PJSIP `MessageSend`,
delivery reports, at most one transmission per message).

Kept import-light: `sms.types` is what other components import; `sms.inbox`,
`sms.outbox`, `sms.transports` and `sms.sms_in` are what the root builds. The inbox and
the outbox hear AMI as consumers (`ami_events`, `on_ami_event`: see `primitives.ami`).
"""
