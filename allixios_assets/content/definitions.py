"""Definitions of the content area, merged into `allixios_assets.definitions.defs`."""

import dagster as dg

from allixios_assets.content.assets import (
    article_drafts,
    article_embeddings,
    published_articles,
    scored_articles,
    seo_reports,
    topics,
)
from allixios_assets.content.checks import content_checks
from allixios_assets.content.jobs import content_job, daily_content_schedule
from allixios_assets.content.translation_assets import translated_articles

defs = dg.Definitions(
    assets=[topics, article_drafts, scored_articles, article_embeddings, published_articles, seo_reports,
            translated_articles],
    asset_checks=content_checks,
    jobs=[content_job],
    schedules=[daily_content_schedule],
)
