"""inventory's settings, read once from the environment.

==========================  =================  ================================================
``INVENTORY_DB``            data/inventory.db  the SQLite file, created and seeded if missing
``INVENTORY_SLOW_S``        5.0                how long the ``fault-slow`` SKU takes to answer
``INVENTORY_FAULT_RATE``    0.0                the share of requests that crash at random
``INVENTORY_FAULT_SEED``    unset              seeds those random crashes, so that the same
                                               requests in the same order crash the same way
                                               every run (for tests); unset, every run differs
==========================  =================  ================================================
"""

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
    #: None: the random crashes draw from an unseeded generator.
    fault_seed: int | None = None

    @classmethod
    def from_env(cls) -> InventorySettings:
        fault_rate = float(os.environ.get("INVENTORY_FAULT_RATE", "0.0"))
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError(f"INVENTORY_FAULT_RATE must be between 0 and 1, not {fault_rate}")
        return cls(
            db_path=Path(os.environ.get("INVENTORY_DB", str(DEFAULT_DB))),
            slow_s=float(os.environ.get("INVENTORY_SLOW_S", "5.0")),
            fault_rate=fault_rate,
            fault_seed=_optional_int("INVENTORY_FAULT_SEED"),
        )


def _optional_int(name: str) -> int | None:
    """The integer in ``name``, or None if it is unset or empty."""
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not an integer") from None
