"""checkout: the edge service. Takes orders and reserves their stock in inventory."""
