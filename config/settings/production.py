"""Production: refuses to start insecurely, and passes `manage.py check --deploy` clean."""

from django.core.exceptions import ImproperlyConfigured

from .base import *
from .base import DEBUG, SECRET_KEY, env

if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set in production.")
if DEBUG:
    raise ImproperlyConfigured("DEBUG must be off in production.")

# The demo accounts' passwords are published: never create them here (`--staging-demo` makes
# them with random passwords for a throwaway staging install).
DEMO_DATA_ALLOWED = False
# Event webhooks never call private or loopback addresses here (the SSRF guard's rule).
WEBHOOK_OUT_ALLOW_PRIVATE = False

# TLS is terminated by the load balancer, which sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# Load balancers and Prometheus reach web processes directly on the private network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"
STAFF_2FA_REQUIRED_ROLES = env.list("STAFF_2FA_REQUIRED_ROLES", default=["Admin"])
