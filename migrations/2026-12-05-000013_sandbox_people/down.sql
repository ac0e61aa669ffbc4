DROP TABLE sandbox_people;
