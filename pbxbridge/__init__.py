"""pbxbridge."""
