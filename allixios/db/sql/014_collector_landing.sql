-- Issue 15 (collector speed): where the lander stands in each write-ahead log folder (day x tenant).
-- Written in the same transaction as the rows it landed, so a crash anywhere either keeps both or
-- neither: the next tick lands exactly the lines after `state.offsets` (nothing lost, nothing twice).
-- `state`: {"offsets": {wal file: bytes landed}, "segment": open feed segment, "rows": its row count}.
-- `landed_at` tells the near-real-time sensor that today's raw changed.
CREATE TABLE collector_landing (
    day date NOT NULL,
    tenant_slug text NOT NULL,
    state jsonb NOT NULL,
    landed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (day, tenant_slug)
);
