-- PostgreSQL cannot drop an enum value: rebuild the type without it, after removing the
-- events that use it (the append-only trigger is paused for exactly that).
ALTER TABLE security_events DISABLE TRIGGER security_events_append_only;
DELETE FROM security_events WHERE kind = 'session_ended_elsewhere';
ALTER TABLE security_events ENABLE TRIGGER security_events_append_only;
ALTER TYPE security_event_kind RENAME TO security_event_kind_old;
CREATE TYPE security_event_kind AS ENUM (
    'account_created', 'login', 'email_changed', 'login_refused', 'logout', 'sessions_revoked',
    'account_deleted', 'data_exported');
ALTER TABLE security_events
    ALTER COLUMN kind TYPE security_event_kind USING kind::text::security_event_kind;
DROP TYPE security_event_kind_old;

-- Back to the deny-list and the epoch. Every session ends: the older version finds none of
-- today's sessions (their cookies carry no epoch) and its people log in again once.
ALTER TABLE users ADD COLUMN session_epoch INTEGER NOT NULL DEFAULT 0;
CREATE TABLE ended_sessions (
    session_id TEXT        PRIMARY KEY CHECK (length(session_id) = 64),
    ended_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ended_sessions_ended_at_idx ON ended_sessions (ended_at);
DROP TABLE user_sessions;
