"""askozia_api."""
