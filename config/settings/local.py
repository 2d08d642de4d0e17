"""The embedded default (`make run`): SQLite, no servers, a development secret key.

DEBUG stays off unless the environment turns it on; `make run` does.
"""

from .base import *
from .base import SECRET_KEY, env

SECRET_KEY = SECRET_KEY or "parley-local-development-key-never-use-in-production-0123456789"
WHATSAPP_API_TOKEN = env.str("WHATSAPP_API_TOKEN", default="simulator-token")
WHATSAPP_APP_SECRET = env.str("WHATSAPP_APP_SECRET", default="simulator-app-secret")
WHATSAPP_WEBHOOK_VERIFY_TOKEN = env.str("WHATSAPP_WEBHOOK_VERIFY_TOKEN", default="simulator-verify")
WHATSAPP_BUSINESS_ACCOUNT_ID = env.str("WHATSAPP_BUSINESS_ACCOUNT_ID", default="100000000000001")
WHATSAPP_PHONE_NUMBER_ID = env.str("WHATSAPP_PHONE_NUMBER_ID", default="200000000000001")
WHATSAPP_DISPLAY_PHONE_NUMBER = env.str("WHATSAPP_DISPLAY_PHONE_NUMBER", default="15550001111")
# The embedded demo's provider is the simulator on loopback: channels may point at private
# hosts here. Production keeps the SSRF guard on channel base URLs (base.py: off by default).
PROVIDER_URL_ALLOW_PRIVATE = env.bool("PROVIDER_URL_ALLOW_PRIVATE", default=True)
# The shipped price card is in USD: the demo reports in INR at this rate unless told otherwise.
ANALYTICS_EXCHANGE_RATES = env.dict("ANALYTICS_EXCHANGE_RATES", default={"USD": "86.0"})
# Metrics from this machine only (README "Metrics and error reports").
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=["127.0.0.1/32"])
