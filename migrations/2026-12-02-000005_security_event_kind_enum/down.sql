ALTER TABLE security_events ALTER COLUMN kind TYPE TEXT USING kind::text;
ALTER TABLE security_events ADD CONSTRAINT security_events_kind_check CHECK (kind IN (
    'account_created', 'login', 'email_changed',
    'login_refused', 'logout', 'sessions_revoked'));
DROP TYPE security_event_kind;
