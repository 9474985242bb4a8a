"""Sensors: niche partitions, score-drop regeneration, topic intake, run status and failure alerts."""
