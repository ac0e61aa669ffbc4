-- The rate limit's buckets are keyed by the salted SHA-256 of the client's address or
-- range (hex, as the activity log keeps addresses), no longer by the address itself.
-- Rows written before hold raw addresses: they are deleted (the worst this does is give
-- each client a fresh burst once), and the CHECK makes a raw address impossible to store.
DELETE FROM login_rate_limits;

ALTER TABLE login_rate_limits
    DROP CONSTRAINT login_rate_limits_client_check,
    ADD CONSTRAINT login_rate_limits_client_is_a_hash CHECK (client ~ '^[0-9a-f]{64}$');
