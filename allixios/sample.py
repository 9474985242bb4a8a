"""The sample tenant that `make run` and the tests start from: three niches with a topic backlog."""

from __future__ import annotations

import psycopg

from allixios.catalog import add_author, add_category
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


# author personas and categories per niche (allixios/catalog.py): fictional bylines, said so in their bios
SAMPLE_PERSONAS: dict[str, list[tuple[str, str]]] = {
    "personal_finance": [("Dana Whitfield", "Personal finance editor"), ("Marcus Lee", "Investing writer")],
    "home_gardening": [("Rosa Alvarez", "Garden editor")],
    "remote_work": [("Sam Okafor", "Workplace writer")],
}
SAMPLE_CATEGORIES: dict[str, list[tuple[str, list[str]]]] = {
    "personal_finance": [("Budgeting", ["budget", "budgeting", "emergency fund"]),
                         ("Investing", ["index funds", "investors", "investing"]),
                         ("Credit", ["credit score", "credit"])],
    "home_gardening": [("Garden Projects", ["raised", "beds", "compost", "composting"]),
                       ("Growing Food", ["tomatoes", "planting", "vegetables"])],
    "remote_work": [("Remote Work Habits", ["async", "focus", "home office", "remote"])],
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
        for name, title in SAMPLE_PERSONAS.get(slug, []):
            add_author(conn, tenant, name, niche=slug, job_title=title,
                       bio=f"{name} is a sample author persona of the Sample Publisher, not a real person.")
        for name, words in SAMPLE_CATEGORIES.get(slug, []):
            add_category(conn, tenant, name, niche=slug, keywords=words)
    return tenant
