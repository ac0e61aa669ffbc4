ALTER TABLE security_events DROP CONSTRAINT security_events_detail_size;
ALTER TABLE security_events ALTER COLUMN detail TYPE TEXT USING CASE
    WHEN detail IS NULL THEN NULL
    WHEN detail ? 'email_change' THEN left('from ' || coalesce(detail #>> '{email_change,from}', 'none')
        || ' to ' || coalesce(detail #>> '{email_change,to}', 'none'), 500)
    WHEN detail ? 'provider' THEN left(detail #>> '{provider,provider}', 500)
    WHEN detail ? 'refusal' THEN left(detail #>> '{refusal,reason}', 500)
    ELSE left(detail::text, 500)
END;
ALTER TABLE security_events ADD CONSTRAINT security_events_detail_check CHECK (length(detail) <= 500);
