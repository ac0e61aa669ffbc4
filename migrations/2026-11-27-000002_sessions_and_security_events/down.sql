DROP TABLE security_events;
DROP FUNCTION security_events_are_append_only();
ALTER TABLE users DROP COLUMN session_epoch;
