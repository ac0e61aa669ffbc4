-- The sandbox's open logins, from sign-token to sign-token-verify (only used while the
-- sandbox stands in for XWMS). In the database, not in one process's memory, so that
-- every replica behind a load balancer sees every login.
CREATE TABLE sandbox_logins (
    -- The id in the login page's URL (not the token).
    request_id   TEXT        PRIMARY KEY CHECK (length(request_id) = 64),
    -- The token goes back to the app in the callback URL; sign-token-verify finds the
    -- login by the token's SHA-256.
    token        TEXT        NOT NULL CHECK (length(token) = 64),
    token_sha256 TEXT        NOT NULL UNIQUE CHECK (length(token_sha256) = 64),
    redirect_url TEXT        NOT NULL,
    issued_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    state        TEXT        NOT NULL DEFAULT 'issued'
                             CHECK (state IN ('issued', 'approved', 'poisoned', 'broken')),
    -- The user data sign-token-verify answers with, as JSON text (state 'approved').
    user_json    TEXT
);

CREATE INDEX sandbox_logins_issued_at_idx ON sandbox_logins (issued_at);
