DROP TABLE dead_properties;
