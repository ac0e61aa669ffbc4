ALTER TABLE login_rate_limits
    DROP CONSTRAINT login_rate_limits_client_is_a_hash,
    ADD CONSTRAINT login_rate_limits_client_check CHECK (length(client) <= 64);
