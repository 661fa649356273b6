"""Business operations: transactions over models using domain rules, raising typed errors."""
