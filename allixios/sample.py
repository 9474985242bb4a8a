"""The sample tenant that `make run` and the tests start from: three niches with a topic backlog."""

from __future__ import annotations

import psycopg

from allixios.content.topics import TopicInput, add_topics
from allixios.tenants import Tenant, add_niche, ensure_tenant

SAMPLE_NICHES: dict[str, dict] = {
    "personal_finance": {
        "name": "Personal Finance",
        "seed_keywords": ["budgeting", "emergency fund", "index funds", "credit score"],
        "topics": [
            ("How to Build an Emergency Fund on a Tight Budget", "emergency fund", 80),
            ("Index Funds Explained for First-Time Investors", "index funds", 70),
            ("Ways to Raise Your Credit Score in Six Months", "credit score", 60),
            ("Zero-Based Budgeting: A Practical Walkthrough", "zero-based budgeting", 50),
        ],
    },
    "home_gardening": {
        "name": "Home Gardening",
        "seed_keywords": ["raised beds", "composting", "tomatoes", "companion planting"],
        "topics": [
            ("Building Raised Garden Beds That Last", "raised garden beds", 80),
            ("Composting at Home Without the Smell", "composting at home", 70),
            ("Growing Tomatoes in Containers", "container tomatoes", 60),
            ("Companion Planting for Beginners", "companion planting", 40),
        ],
    },
    "remote_work": {
        "name": "Remote Work",
        "seed_keywords": ["home office", "async communication", "focus", "remote teams"],
        "topics": [
            ("Setting Up an Ergonomic Home Office", "home office", 75),
            ("Async Communication Habits for Remote Teams", "async communication", 65),
            ("Protecting Deep Focus Time While Working Remotely", "deep focus", 55),
        ],
    },
}


def seed_sample(conn: psycopg.Connection, tenant_slug: str = "sample") -> Tenant:
    """Create the sample tenant, its niches and backlog. Safe to run again (nothing is duplicated)."""
    tenant = ensure_tenant(conn, tenant_slug, "Sample Publisher")
    for slug, spec in SAMPLE_NICHES.items():
        niche = add_niche(conn, tenant, slug, spec["name"], spec["seed_keywords"], daily_quota=4)
        add_topics(
            conn,
            niche,
            [TopicInput(title, (kp,), kp, prio) for title, kp, prio in spec["topics"]],
            source="cli",
        )
    return tenant
