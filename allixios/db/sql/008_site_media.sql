-- Site and media: releases, rendered pages, media library (issue 13, site)
-- (placeholder until its issue fills it)
SELECT 1;
