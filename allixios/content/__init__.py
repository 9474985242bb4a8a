"""Content domain: topics, drafting, scoring, embeddings, publishing, SEO reports."""
