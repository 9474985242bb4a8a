"""maintenance assets."""
