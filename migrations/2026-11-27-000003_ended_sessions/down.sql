ALTER TABLE security_events DROP CONSTRAINT security_events_kind_check;
ALTER TABLE security_events ADD CONSTRAINT security_events_kind_check CHECK (kind IN (
    'account_created', 'login', 'email_changed', 'login_refused', 'logout'));
DROP TABLE ended_sessions;
