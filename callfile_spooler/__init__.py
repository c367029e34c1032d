"""callfile_spooler."""
