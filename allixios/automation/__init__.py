"""Automation domain: run tracking, alerts, topic intake, score-drop detection, maintenance."""
