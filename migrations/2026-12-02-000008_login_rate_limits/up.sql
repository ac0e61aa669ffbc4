-- The per-client limit on the login steps, shared by every replica: one row per client
-- address (IPv6: per /64) with its "theoretical arrival time" (GCRA, the algorithm
-- behind token buckets): a request is allowed while tat stays within the burst of now.
-- Rows whose tat has passed carry no information and are swept.
CREATE TABLE login_rate_limits (
    client TEXT        PRIMARY KEY CHECK (length(client) <= 64),
    tat    TIMESTAMPTZ NOT NULL
);

CREATE INDEX login_rate_limits_tat_idx ON login_rate_limits (tat);
