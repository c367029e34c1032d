"""Tests of the FastAGI wire layer and server."""
