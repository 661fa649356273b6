"""The HTTP server around the GraphQL schema: view, observability and health endpoints."""
