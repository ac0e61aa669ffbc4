DROP INDEX security_events_created_at_idx;
CREATE OR REPLACE FUNCTION security_events_are_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.user_id IS NULL
       AND (NEW.id, NEW.kind, NEW.detail, NEW.ip_hash, NEW.user_agent, NEW.created_at)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.kind, OLD.detail, OLD.ip_hash, OLD.user_agent, OLD.created_at) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'security_events is append-only';
END;
$$ LANGUAGE plpgsql;
