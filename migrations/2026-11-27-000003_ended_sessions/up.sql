-- "Log out" ends one session. Sessions live in the browser's encrypted cookie, so the
-- server remembers which ones were ended (a copy of the cookie must die too), for as
-- long as they could otherwise still be used (the absolute session limit).
CREATE TABLE ended_sessions (
    session_id TEXT        PRIMARY KEY CHECK (length(session_id) = 64),
    ended_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX ended_sessions_ended_at_idx ON ended_sessions (ended_at);

-- "Log out on all devices" is its own event.
ALTER TABLE security_events DROP CONSTRAINT security_events_kind_check;
ALTER TABLE security_events ADD CONSTRAINT security_events_kind_check CHECK (kind IN (
    'account_created', 'login', 'email_changed',
    'login_refused', 'logout', 'sessions_revoked'));
