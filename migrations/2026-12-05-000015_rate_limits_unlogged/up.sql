-- The rate limit's state is disposable: it only slows down clients that start many logins.
-- An UNLOGGED table writes no WAL, so its two upserts per login no longer each wait for a
-- WAL flush to disk. What this gives up: after a crash of PostgreSQL (not a clean restart)
-- the table starts empty, and a standby promoted after a failover has it empty too; either
-- way every client gets a fresh burst once, which is harmless. The rest of the login's
-- writes stay logged (see docs/security.md, "What each write of a login keeps").
ALTER TABLE login_rate_limits SET UNLOGGED;
