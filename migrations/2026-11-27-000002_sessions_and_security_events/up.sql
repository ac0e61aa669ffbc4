-- Bumped at logout: every session cookie issued before carries the old epoch and is
-- refused from then on, on every device (copies of the cookie included).
ALTER TABLE users ADD COLUMN session_epoch INTEGER NOT NULL DEFAULT 0;

-- The security activity log: identity events, written in the same transaction as the
-- change they record. Append-only (see the trigger below).
CREATE TABLE security_events (
    id         BIGSERIAL PRIMARY KEY,
    -- NULL for refused logins: we do not know (and must not guess) who it was.
    -- Deleting a user keeps their events, anonymised.
    user_id    BIGINT REFERENCES users (id) ON DELETE SET NULL,
    kind       TEXT        NOT NULL CHECK (kind IN (
                   'account_created', 'login', 'email_changed',
                   'login_refused', 'logout')),
    detail     TEXT        CHECK (length(detail) <= 500),
    -- SHA-256 of the client IP with a server-side salt: lets you tell "same place"
    -- apart without storing the address.
    ip_hash    TEXT,
    user_agent TEXT        CHECK (length(user_agent) <= 300),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX security_events_user_id_created_at_idx ON security_events (user_id, created_at DESC);

CREATE FUNCTION security_events_are_append_only() RETURNS trigger AS $$
BEGIN
    -- The one change allowed: forgetting whose event it was, when that user is deleted
    -- (ON DELETE SET NULL). Everything else about an event stays as written.
    IF TG_OP = 'UPDATE' AND NEW.user_id IS NULL
       AND (NEW.id, NEW.kind, NEW.detail, NEW.ip_hash, NEW.user_agent, NEW.created_at)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.kind, OLD.detail, OLD.ip_hash, OLD.user_agent, OLD.created_at) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'security_events is append-only';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER security_events_append_only
    BEFORE UPDATE OR DELETE ON security_events
    FOR EACH ROW EXECUTE FUNCTION security_events_are_append_only();
