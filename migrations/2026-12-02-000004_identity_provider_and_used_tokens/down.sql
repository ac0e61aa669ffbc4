DROP TABLE used_login_tokens;

-- Fails if two providers share a sub: then there is no way back without deleting one.
ALTER TABLE xwms_connections
    DROP CONSTRAINT xwms_connections_provider_sub_key,
    ADD CONSTRAINT xwms_connections_sub_key UNIQUE (sub),
    DROP COLUMN provider;
