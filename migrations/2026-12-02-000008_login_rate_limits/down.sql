DROP TABLE login_rate_limits;
