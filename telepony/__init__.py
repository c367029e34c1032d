"""Feeds Ubilling's TelePony: every AMI `Cdr` leg becomes a row of a MySQL table laid out
as Asterisk's cdr_mysql writes it, queued first in pbxbridge's own database (see feed.py)."""
