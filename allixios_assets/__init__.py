"""Dagster definitions for Allixios: assets, asset checks, partitions, jobs and schedules."""
