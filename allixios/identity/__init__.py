"""Who is calling: users and roles, API keys, signed tokens, SSO, and encrypted personal data.

Plain domain code (no web framework, no Dagster): the API authenticates with it and the
`allixios users` / `allixios keys` commands manage it.
"""
