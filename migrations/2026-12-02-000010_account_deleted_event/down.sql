-- PostgreSQL cannot drop an enum value: rebuild the type without it, after removing the
-- events that use it (the append-only trigger is paused for exactly that).
ALTER TABLE security_events DISABLE TRIGGER security_events_append_only;
DELETE FROM security_events WHERE kind IN ('account_deleted', 'data_exported');
ALTER TABLE security_events ENABLE TRIGGER security_events_append_only;
ALTER TYPE security_event_kind RENAME TO security_event_kind_old;
CREATE TYPE security_event_kind AS ENUM (
    'account_created', 'login', 'email_changed', 'login_refused', 'logout', 'sessions_revoked');
ALTER TABLE security_events
    ALTER COLUMN kind TYPE security_event_kind USING kind::text::security_event_kind;
DROP TYPE security_event_kind_old;
