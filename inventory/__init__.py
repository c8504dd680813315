"""inventory: the service behind checkout. Knows the stock of every SKU and reserves it."""
