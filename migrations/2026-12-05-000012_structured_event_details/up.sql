-- An event's detail is data, not a sentence: JSON the app writes from one Rust type
-- (`domain::activity::EventDetail`) and reads back without parsing text. One key names
-- what the detail is:
--   {"email_change": {"from": "a@example.com", "to": null}}   email_changed (null: no address)
--   {"provider": {"provider": "xwms"}}                         account_created
--   {"refusal": {"reason": "..."}}                              login_refused
-- The details written before this migration are converted to the same shapes. No other
-- kind of event was ever written with a detail.
ALTER TABLE security_events DROP CONSTRAINT IF EXISTS security_events_detail_check;
ALTER TABLE security_events ALTER COLUMN detail TYPE JSONB USING CASE
    WHEN detail IS NULL THEN NULL
    -- "from A to B"; a sentence the old app cut at 500 characters keeps what is left.
    WHEN kind = 'email_changed' THEN jsonb_build_object(
        'email_change', jsonb_build_object(
            'from', nullif(substring(detail FROM '^from (\S*)'), 'none'),
            'to', nullif(substring(detail FROM ' to (\S*)$'), 'none')))
    WHEN kind = 'account_created' THEN jsonb_build_object(
        'provider', jsonb_build_object('provider', detail))
    ELSE jsonb_build_object('refusal', jsonb_build_object('reason', detail))
END;
-- Still small: each text in it is cut to 500 characters by the app.
ALTER TABLE security_events ADD CONSTRAINT security_events_detail_size
    CHECK (octet_length(detail::text) <= 10000);
