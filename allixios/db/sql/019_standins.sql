-- Issue 16: stand-in articles carry a marker in their stored metadata that every consumer can see.
-- articles.metadata.stand_in = {"writer": "offline", "model": "offline/writer", "version": n} while the
-- current text was written by an offline stand-in (allixios/content/stand_in.py); absent otherwise.
ALTER TABLE articles ADD COLUMN IF NOT EXISTS metadata jsonb NOT NULL DEFAULT '{}';

-- articles written before the marker existed: the model recorded with the text says who wrote it
UPDATE articles
   SET metadata = metadata || jsonb_build_object('stand_in', jsonb_build_object(
           'writer', 'offline', 'model', ai_model_used, 'version', version_number))
 WHERE ai_model_used IN ('offline/writer', 'offline/researcher', 'offline/judge')
   AND NOT metadata ? 'stand_in';
