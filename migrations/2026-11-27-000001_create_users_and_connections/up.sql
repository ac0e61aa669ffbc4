-- Local accounts. Email is deliberately NOT unique: XWMS accounts are linked
-- by `sub` (see xwms_connections), and two XWMS users may share an address.
CREATE TABLE users (
    id             BIGSERIAL PRIMARY KEY,
    name           TEXT,
    email          TEXT,
    email_verified BOOLEAN     NOT NULL DEFAULT FALSE,
    picture_url    TEXT,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One row per XWMS identity. `sub` is XWMS's stable user id, stored as an
-- opaque string; the UNIQUE constraint is what makes concurrent first logins
-- for the same person produce exactly one account.
CREATE TABLE xwms_connections (
    id            BIGSERIAL PRIMARY KEY,
    user_id       BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sub           TEXT        NOT NULL UNIQUE CHECK (length(sub) BETWEEN 1 AND 255),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_login_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX xwms_connections_user_id_idx ON xwms_connections (user_id);
