"""Model and rule routing, and endpoint picking."""
