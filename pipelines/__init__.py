"""Education-quality warehouse: the Dagster code location."""
