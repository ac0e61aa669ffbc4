DROP TABLE xwms_connections;
DROP TABLE users;
