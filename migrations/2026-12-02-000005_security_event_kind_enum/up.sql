-- The kinds of security event as a type of their own, mapped one to one to the Rust
-- enum `activity::EventKind`: the database refuses any other value, and Rust reads
-- every value there is. A new kind is one `ALTER TYPE ... ADD VALUE` plus one variant.
CREATE TYPE security_event_kind AS ENUM (
    'account_created', 'login', 'email_changed', 'login_refused', 'logout', 'sessions_revoked');

ALTER TABLE security_events DROP CONSTRAINT security_events_kind_check;
ALTER TABLE security_events
    ALTER COLUMN kind TYPE security_event_kind USING kind::security_event_kind;
