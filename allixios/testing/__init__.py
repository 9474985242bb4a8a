"""Test and benchmark helpers that run real things (a local OpenAI-compatible server)."""
