ALTER TABLE login_rate_limits RESET (fillfactor);
CREATE INDEX login_rate_limits_tat_idx ON login_rate_limits (tat);
