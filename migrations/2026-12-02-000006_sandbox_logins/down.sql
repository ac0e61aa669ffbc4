DROP TABLE sandbox_logins;
