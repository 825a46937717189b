DROP TABLE address_books;
DROP TABLE credentials;
DROP TABLE users;
