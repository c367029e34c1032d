"""ami_listener: the AMI connection to Asterisk, message framing, events and actions."""
