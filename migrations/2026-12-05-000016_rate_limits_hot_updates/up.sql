-- Every login step moves its client's `tat`. With an index on `tat`, each of those updates
-- writes a new entry into both indexes; without it, PostgreSQL can update the row in place
-- on its page (a HOT update: no index is touched), which is what two rate-limit steps per
-- login mostly become. The index served only the hourly sweep (`DELETE ... WHERE tat <
-- now()`), which now reads the table whole: one row per client seen within the last hour
-- or so, and the table is disposable anyway (UNLOGGED, migration 15). Room left on each
-- page keeps the updates HOT.
DROP INDEX login_rate_limits_tat_idx;
ALTER TABLE login_rate_limits SET (fillfactor = 70);
