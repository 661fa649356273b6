"""The GraphQL schema, assembled from per-area parts."""
