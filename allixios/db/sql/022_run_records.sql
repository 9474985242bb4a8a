-- Run records (issue 18): the seed's WorkflowState on articles, kept current by the database.
--
-- The seed's Article carries workflowState {currentStage, completedStages, pendingActions,
-- lastProcessedAt, processingLocks}. articles.workflow_state (jsonb, since 0002) is that column:
-- the pipeline, revision, editorial and link upkeep already keep their notes there (failed_bars,
-- refresh, held_for_editor, broken_links, "stage" = the last writer's event). The seed's four
-- fields go at its top level:
--   current_stage      draft | score | hold | publish | archive | failed  (follows articles.status)
--   completed_stages   the stages passed through, oldest first, with the new texts between them
--                      ('revise' for a revision, 'edit'/'revert' for an editor's; a publication's own
--                      version is not a step); a revised text is scored ('score') before its verdict
--                      (hold, publish); the last 20 kept
--   pending_actions    what the article waits for (score, publish, revise, editor_review, fix_links)
--   last_processed_at  when its stage, version or pending actions last changed
-- (processing locks are the article_locks rows, shown next to it by `allixios articles show` and the API.)
--
-- Why a trigger: status changes come from many writers (drafting, scoring, publishing, revision,
-- the editor CLI/API, translation); a BEFORE trigger keeps the state right for every one of them,
-- in the same statement, with none of them having to remember it. It reads the previous state
-- from OLD, so a writer that replaces workflow_state wholesale cannot lose the history.

CREATE FUNCTION allixios_article_stage(status content_status) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE status
        WHEN 'draft' THEN 'draft' WHEN 'scored' THEN 'score' WHEN 'needs_revision' THEN 'hold'
        WHEN 'published' THEN 'publish' WHEN 'archived' THEN 'archive' ELSE 'failed' END
$$;

CREATE FUNCTION allixios_article_pending(stage text, state jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT to_jsonb(array_remove(ARRAY[
        CASE stage WHEN 'draft' THEN 'score' WHEN 'score' THEN 'publish'
                   WHEN 'hold' THEN CASE WHEN state ? 'held_for_editor' THEN 'editor_review' ELSE 'revise' END
                   WHEN 'failed' THEN 'editor_review' END,
        -- broken links in the source (maintenance link audit) or on the built page (site crawl)
        CASE WHEN stage = 'publish' AND (
                  (jsonb_typeof(state -> 'broken_links') = 'array' AND jsonb_array_length(state -> 'broken_links') > 0)
               OR (jsonb_typeof(state -> 'site_broken_links') = 'array'
                   AND jsonb_array_length(state -> 'site_broken_links') > 0)) THEN 'fix_links' END
    ], NULL))
$$;

CREATE FUNCTION allixios_article_workflow_state() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    target text := allixios_article_stage(NEW.status);
    stage text;
    done jsonb;
    pending jsonb;
    changed boolean;
    version_reason text;
    label text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        stage := target;
        done := CASE stage WHEN 'draft' THEN '[]' WHEN 'score' THEN '["draft"]'
                           ELSE '["draft", "score"]' END::jsonb;
        changed := true;
    ELSE
        stage := coalesce(OLD.workflow_state ->> 'current_stage', allixios_article_stage(OLD.status));
        done := coalesce(OLD.workflow_state -> 'completed_stages', '[]'::jsonb);
        -- a new version (content/versions.py writes its article_versions row first): a revision or an
        -- editor's change is a step of its own; the version a publication writes is not
        IF NEW.version_number > OLD.version_number THEN
            SELECT v.reason INTO version_reason FROM article_versions v
             WHERE v.article_id = NEW.id AND v.version_number = NEW.version_number;
            label := CASE version_reason WHEN 'regenerated' THEN 'revise' WHEN 'refresh' THEN 'revise'
                                         WHEN 'edit' THEN 'edit' WHEN 'revert' THEN 'revert' END;
        END IF;
        IF label IS NOT NULL THEN
            done := done || jsonb_build_array(stage, label);
            -- a revision scores its text: it waits on the verdict (the status the next statement sets)
            stage := CASE label WHEN 'revise' THEN 'score' ELSE target END;
        END IF;
        -- the stage follows the status, except in the statement that writes a publication's version
        -- (the status it leads to comes with the next statement)
        IF target <> stage AND (NEW.version_number = OLD.version_number OR NEW.status IS DISTINCT FROM OLD.status) THEN
            done := done || to_jsonb(stage);
            IF target IN ('hold', 'publish') AND stage = 'draft' THEN
                done := done || '"score"'::jsonb;  -- scored and decided in the same statement
            END IF;
            stage := target;
        END IF;
        changed := label IS NOT NULL OR NEW.status IS DISTINCT FROM OLD.status
                   OR stage IS DISTINCT FROM OLD.workflow_state ->> 'current_stage';
        IF jsonb_array_length(done) > 20 THEN  -- bounded: a long-lived article is refreshed many times
            done := (SELECT jsonb_agg(e ORDER BY i) FROM jsonb_array_elements(done) WITH ORDINALITY AS x(e, i)
                     WHERE i > jsonb_array_length(done) - 20);
        END IF;
    END IF;
    pending := allixios_article_pending(stage, NEW.workflow_state);
    changed := changed OR pending IS DISTINCT FROM (OLD.workflow_state -> 'pending_actions');
    NEW.workflow_state := NEW.workflow_state || jsonb_build_object(
        'current_stage', stage,
        'completed_stages', done,
        'pending_actions', pending,
        'last_processed_at', CASE WHEN changed THEN to_jsonb(now())
                                  ELSE coalesce(OLD.workflow_state -> 'last_processed_at', to_jsonb(now())) END);
    RETURN NEW;
END
$$;

-- existing articles: their state from their status (history before this revision is not known)
UPDATE articles SET workflow_state = workflow_state || jsonb_build_object(
    'current_stage', allixios_article_stage(status),
    'completed_stages', CASE allixios_article_stage(status) WHEN 'draft' THEN '[]' WHEN 'score' THEN '["draft"]'
                                                            ELSE '["draft", "score"]' END::jsonb,
    'pending_actions', allixios_article_pending(allixios_article_stage(status), workflow_state),
    'last_processed_at', to_jsonb(updated_at))
WHERE NOT workflow_state ? 'current_stage';

-- after the backfill, so the backfill keeps each row's own updated_at
CREATE TRIGGER articles_workflow_state
    BEFORE INSERT OR UPDATE OF status, version_number, workflow_state ON articles
    FOR EACH ROW EXECUTE FUNCTION allixios_article_workflow_state();
