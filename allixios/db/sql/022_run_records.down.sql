DROP TRIGGER IF EXISTS articles_workflow_state ON articles;
DROP FUNCTION IF EXISTS allixios_article_workflow_state();
DROP FUNCTION IF EXISTS allixios_article_pending(text, jsonb);
DROP FUNCTION IF EXISTS allixios_article_stage(content_status);
UPDATE articles SET workflow_state = workflow_state - ARRAY['current_stage', 'completed_stages', 'pending_actions',
                                                            'last_processed_at'];
