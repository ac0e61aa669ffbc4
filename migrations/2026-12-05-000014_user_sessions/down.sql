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

-- The previous version's deny-list and epoch were kept; today's sessions have no place in
-- them, so every session ends and its person logs in again once.
DROP TABLE user_sessions;
