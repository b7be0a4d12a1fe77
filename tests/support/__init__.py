"""Test support: tools on PATH, terraform environment, moto, checkouts, inventory factories."""
