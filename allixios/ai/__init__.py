"""AI management: model catalogue, routing, usage ledger, budgets, failover (litellm underneath)."""
