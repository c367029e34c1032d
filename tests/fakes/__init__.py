"""Fakes of the systems pbxbridge talks to, for tests."""
