-- Signed-in sessions become server-side records: an allow-list. A session cookie is worth
-- something only while its row is here, so "your devices" can list every session of an
-- account exactly and end any one of them; logging out deletes this session's row, "log
-- out on all devices" deletes them all, deleting the account deletes them with it.
--
-- The browser's encrypted cookie holds a random session id; only its SHA-256 is kept, so
-- nothing read from this table could be put into a cookie. `id` names a session in forms
-- ("end this session") without revealing that hash.
CREATE TABLE user_sessions (
    id           BIGSERIAL   PRIMARY KEY,
    token_sha256 TEXT        NOT NULL UNIQUE CHECK (length(token_sha256) = 64),
    user_id      BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Written at most once per cookie refresh interval (a minute at most), not per request.
    last_seen_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- As the browser sent it at the login (cut like the activity log's); shown summarised
    -- ("Firefox on Linux").
    user_agent   TEXT        CHECK (length(user_agent) <= 300)
);

CREATE INDEX user_sessions_user_id_idx ON user_sessions (user_id);

-- The allow-list replaces the deny-list of logged-out sessions (`ended_sessions`) and the
-- per-user epoch that "log out on all devices" bumped (`users.session_epoch`). Sessions
-- signed in before this migration have no record: they end at their next request, and their
-- people log in again once. The two old ones are no longer used but stay for this release,
-- so that replicas of the previous version keep working during a rolling deploy (migrations
-- stay additive, docs/deploy.md); the next release's migration drops them.

-- Ending one session from another ("your devices") is its own event.
ALTER TYPE security_event_kind ADD VALUE 'session_ended_elsewhere';
