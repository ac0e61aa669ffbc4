-- Which identity provider vouched for a `sub`: 'sandbox' (the built-in stand-in) or
-- 'xwms:<API host>'. A `sub` is only unique within its provider, so the key is
-- (provider, sub): a sandbox identity can never own a real XWMS account, whatever its sub.
ALTER TABLE xwms_connections ADD COLUMN provider TEXT;

-- Existing rows: the sandbox only ever issued subs starting with "sandbox-" and the
-- numeric sub of its "Grace" persona; everything else came from XWMS at its public
-- host. (Ran against another XWMS host? See docs/deploy.md, "Identity providers".)
UPDATE xwms_connections
   SET provider = CASE
       WHEN sub LIKE 'sandbox-%' OR sub = '190612091992' THEN 'sandbox'
       ELSE 'xwms:xwms.nl'
   END;

ALTER TABLE xwms_connections
    ALTER COLUMN provider SET NOT NULL,
    ADD CONSTRAINT xwms_connections_provider_check CHECK (length(provider) BETWEEN 1 AND 300),
    DROP CONSTRAINT xwms_connections_sub_key,
    ADD CONSTRAINT xwms_connections_provider_sub_key UNIQUE (provider, sub);

-- Callback tokens already used, as SHA-256 hashes, kept as long as a pending login
-- lives: a copy of the browser's cookie from before the callback must not be able to
-- use the same token again.
CREATE TABLE used_login_tokens (
    token_sha256 TEXT        PRIMARY KEY CHECK (length(token_sha256) = 64),
    used_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX used_login_tokens_used_at_idx ON used_login_tokens (used_at);
