"""Thin resolvers: authorise, map input to a service call, map the result or error to a payload."""
