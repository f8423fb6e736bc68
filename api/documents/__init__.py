"""Documents: where they may come from (locations), how they are fetched, and their pages."""
