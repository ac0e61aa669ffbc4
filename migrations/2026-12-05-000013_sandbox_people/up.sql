-- The people the sandbox knows, as XWMS knows its users: each login through the sandbox
-- records (or updates) the person it vouched for, `get/user/info` answers from here, and
-- the sandbox's people page changes a name or an email "at XWMS", so the profile's
-- "Refresh from XWMS" has something to show. Sandbox data only: never the app's users.
CREATE TABLE sandbox_people (
    -- As the sandbox sends it: `sandbox-ada`, or a number's digits (Grace).
    sub            TEXT        PRIMARY KEY CHECK (length(sub) BETWEEN 1 AND 255),
    name           TEXT        CHECK (length(name) <= 200),
    email          TEXT        CHECK (length(email) <= 254),
    email_verified BOOLEAN     NOT NULL DEFAULT false,
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
