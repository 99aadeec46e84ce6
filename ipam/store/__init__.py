"""PostgreSQL storage: models, the SQL that allocates, transactions and retries."""
