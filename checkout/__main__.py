"""``python -m checkout``: run the checkout service (CHECKOUT_PORT, 8080 by default)."""

from checkout.app import create_app
from checkout.config import CheckoutSettings
from shoptrace.server import main
from shoptrace.services import CHECKOUT

if __name__ == "__main__":
    main(CHECKOUT, lambda telemetry: create_app(CheckoutSettings.from_env(), telemetry))
