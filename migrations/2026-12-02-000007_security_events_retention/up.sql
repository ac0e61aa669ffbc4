-- The activity log does not grow forever, and keeps no personal data of deleted users.
--
-- 1. Retention: the app sweeps events older than its retention settings (one statement,
--    `activity::sweep_expired_events`). It says how far it may go in two transaction-local
--    settings; the trigger allows a DELETE only of rows older than those, and never of
--    rows younger than a day. Any other DELETE is still refused.
-- 2. A deleted user's events keep what happened and when, but lose the personal data:
--    the detail (an email change names addresses), the IP hash and the user agent.
CREATE OR REPLACE FUNCTION security_events_are_append_only() RETURNS trigger AS $$
DECLARE
    keep_after TIMESTAMPTZ;
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.user_id IS NOT NULL AND NEW.user_id IS NULL
       AND (NEW.id, NEW.kind, NEW.detail, NEW.ip_hash, NEW.user_agent, NEW.created_at)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.kind, OLD.detail, OLD.ip_hash, OLD.user_agent, OLD.created_at) THEN
        -- ON DELETE SET NULL of the user: forget whose it was, and their personal data.
        NEW.detail := NULL;
        NEW.ip_hash := NULL;
        NEW.user_agent := NULL;
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE' THEN
        keep_after := CASE WHEN OLD.user_id IS NULL
            THEN nullif(current_setting('xwms.retention_anonymous_before', true), '')::timestamptz
            ELSE nullif(current_setting('xwms.retention_users_before', true), '')::timestamptz
        END;
        IF keep_after IS NOT NULL AND keep_after <= now() - interval '1 day'
           AND OLD.created_at < keep_after THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'security_events is append-only';
END;
$$ LANGUAGE plpgsql;

CREATE INDEX security_events_created_at_idx ON security_events (created_at);

-- Deleted users' events from before this migration lose their personal data too (refused
-- logins have no user to begin with and keep their reason).
ALTER TABLE security_events DISABLE TRIGGER security_events_append_only;
UPDATE security_events SET detail = NULL, ip_hash = NULL, user_agent = NULL
 WHERE user_id IS NULL AND kind <> 'login_refused';
ALTER TABLE security_events ENABLE TRIGGER security_events_append_only;
