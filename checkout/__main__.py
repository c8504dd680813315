"""``python -m checkout``: run the checkout service (CHECKOUT_PORT, 8080 by default)."""

from checkout.app import create_app
from checkout.config import CheckoutSettings
from shoptrace.server import main
from shoptrace.services import CHECKOUT

if __name__ == "__main__":
    settings = CheckoutSettings.from_env()
    # CHECKOUT_PUBLIC_ENDPOINT=true: served behind the middleware that sets untrusted callers' trace headers aside.
    main(CHECKOUT, lambda telemetry: create_app(settings, telemetry), public_endpoint=settings.public_endpoint)
