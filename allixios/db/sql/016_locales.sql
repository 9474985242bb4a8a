-- Locales and translations (issue 17; docs/areas/localization.md).
-- A tenant sells in `locales` (its `default_locale` is the language articles are drafted in); a niche
-- names the target locales its published articles are translated into. A translation is an
-- ordinary article row (`articles.locale` set; NULL = the tenant's default locale, i.e. a source
-- article) versioned through the one version writer; `translation_versions` links each of its
-- versions to the source version it was made from.
ALTER TABLE tenants ADD COLUMN default_locale text NOT NULL DEFAULT 'en' CHECK (default_locale ~ '^[a-z]{2}$');
ALTER TABLE tenants ADD COLUMN locales text[] NOT NULL DEFAULT '{en}';
ALTER TABLE tenants ADD CONSTRAINT tenants_default_locale_listed CHECK (default_locale = ANY (locales));
ALTER TABLE niches ADD COLUMN locales text[] NOT NULL DEFAULT '{}';
ALTER TABLE articles ADD COLUMN locale text CHECK (locale ~ '^[a-z]{2}$');
CREATE INDEX articles_locale_idx ON articles (tenant_id, locale) WHERE locale IS NOT NULL;

-- One row per source article x target locale: where its translation stands.
CREATE TABLE article_translations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    source_article_id uuid NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    locale text NOT NULL CHECK (locale ~ '^[a-z]{2}$'),
    article_id uuid UNIQUE REFERENCES articles(id) ON DELETE SET NULL,  -- the translation once one passed
    source_version_id uuid REFERENCES article_versions(id) ON DELETE SET NULL,  -- what the live translation is of
    source_content_hash text,
    glossary_digest text,  -- of the glossary entries the live translation was made with (a change re-translates)
    -- pending: never translated; current: live and of the source's live version; stale: the source changed
    -- since (re-translated by the next run); rejected: every attempt failed the checks (reasons kept);
    -- withdrawn: the source is no longer live, so neither is the translation
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'current', 'stale', 'rejected', 'withdrawn')),
    rounds integer NOT NULL DEFAULT 0,  -- translation rounds spent on the source's current version
    last_error text,
    rejections jsonb NOT NULL DEFAULT '[]',  -- every rejected output: {at, source_version, model, reason}
    stale_since timestamptz,
    translated_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source_article_id, locale)
);
CREATE INDEX article_translations_status_idx ON article_translations (tenant_id, status);

-- Append-only link: this version of a translation was made from that version of its source.
CREATE TABLE translation_versions (
    translation_version_id uuid PRIMARY KEY REFERENCES article_versions(id) ON DELETE CASCADE,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    article_id uuid NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    source_article_id uuid NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    source_version_id uuid NOT NULL REFERENCES article_versions(id) ON DELETE CASCADE,
    locale text NOT NULL,
    translator text NOT NULL,  -- the deployment's model, plus "(stand-in translator)" offline
    stand_in boolean NOT NULL DEFAULT false,
    language_check jsonb NOT NULL DEFAULT '{}',  -- detector, detected language, confidence
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX translation_versions_source_idx ON translation_versions (source_version_id);

-- The tenant's glossary: a term and its fixed translation per locale (one translation per term).
CREATE TABLE translation_glossary (
    id bigserial PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    locale text NOT NULL CHECK (locale ~ '^[a-z]{2}$'),
    term text NOT NULL CHECK (length(btrim(term)) BETWEEN 1 AND 200),
    translation text NOT NULL CHECK (length(btrim(translation)) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX translation_glossary_term_idx ON translation_glossary (tenant_id, locale, lower(btrim(term)));

-- A source article whose live version changes marks its translations stale, whichever path published
-- it (pipeline, editor, refresh): the next translated_articles run re-translates them.
CREATE FUNCTION mark_translations_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE article_translations t
       SET status = 'stale', stale_since = coalesce(t.stale_since, now()), rounds = 0, updated_at = now()
     WHERE t.source_article_id = NEW.id AND t.status IN ('current', 'rejected', 'withdrawn')
       AND t.source_content_hash IS DISTINCT FROM (
           SELECT v.content_hash FROM article_versions v
            WHERE v.article_id = NEW.id AND v.version_number = NEW.published_version_number);
    RETURN NULL;
END $$;
CREATE TRIGGER articles_translations_stale AFTER UPDATE OF published_version_number ON articles
    FOR EACH ROW WHEN (NEW.locale IS NULL AND NEW.published_version_number IS DISTINCT FROM OLD.published_version_number)
    EXECUTE FUNCTION mark_translations_stale();
