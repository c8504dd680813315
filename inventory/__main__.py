"""``python -m inventory``: run the inventory service (INVENTORY_PORT, 8081 by default)."""

from inventory.app import create_app
from inventory.config import InventorySettings
from shoptrace.server import main

if __name__ == "__main__":
    main("inventory", lambda tel: create_app(InventorySettings.from_env(), tel), "INVENTORY_PORT", 8081)
