"""content assets."""
