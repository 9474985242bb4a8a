"""Analytics assets (group `analytics`): raw event ingestion, the dbt marts, revenue KPIs."""
