"""``python -m inventory``: run the inventory service (INVENTORY_PORT, 8081 by default)."""

from inventory.app import create_app
from inventory.config import InventorySettings
from shoptrace.server import main
from shoptrace.services import INVENTORY

if __name__ == "__main__":
    main(INVENTORY, lambda telemetry: create_app(InventorySettings.from_env(), telemetry))
