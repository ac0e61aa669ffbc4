ALTER TABLE login_rate_limits SET LOGGED;
