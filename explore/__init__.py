"""Tools to explore what the services trace: `make trace` and `make load`."""
