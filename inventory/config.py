"""inventory's settings, read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DB = Path(__file__).resolve().parent.parent / "data" / "inventory.db"


@dataclass(frozen=True)
class InventorySettings:
    db_path: Path
    slow_s: float
    fault_rate: float

    @classmethod
    def from_env(cls) -> InventorySettings:
        fault_rate = float(os.environ.get("INVENTORY_FAULT_RATE", "0.0"))
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError(f"INVENTORY_FAULT_RATE must be between 0 and 1, not {fault_rate}")
        return cls(
            db_path=Path(os.environ.get("INVENTORY_DB", str(DEFAULT_DB))),
            slow_s=float(os.environ.get("INVENTORY_SLOW_S", "5.0")),
            fault_rate=fault_rate,
        )
