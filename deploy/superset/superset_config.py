"""Superset settings for the warehouse's dashboards (read by Superset through SUPERSET_CONFIG_PATH).

`python -m pipelines.dashboards` (`make dashboards`) sets the environment this file reads:

- EDUWH_SUPERSET_HOME: Superset's own state (the metadata database `superset.db`, SQLite), outside git;
- SUPERSET_SECRET_KEY: the key that signs sessions and encrypts the stored database connection (from the
  environment, else generated once into `<EDUWH_SUPERSET_HOME>/secret_key`).

Nothing secret is in this file. Superset's defaults apply to everything not set here.
"""

from __future__ import annotations

import os
from pathlib import Path

_HOME = Path(os.environ["EDUWH_SUPERSET_HOME"]).resolve()

SECRET_KEY = os.environ["SUPERSET_SECRET_KEY"]
SQLALCHEMY_DATABASE_URI = f"sqlite:///{_HOME / 'superset.db'}?check_same_thread=false"
DATA_DIR = str(_HOME)

# The users are Russian education authorities: the interface in Russian (English can be chosen).
BABEL_DEFAULT_LOCALE = "ru"
LANGUAGES = {"ru": {"flag": "ru", "name": "Русский"}, "en": {"flag": "us", "name": "English"}}
D3_FORMAT = {"decimal": ",", "thousands": "\u00a0", "grouping": [3], "currency": ["", "\u00a0₽"]}

# No calls home, no example data, no background workers: a single process on 127.0.0.1.
FEATURE_FLAGS = {"DASHBOARD_RBAC": False, "THUMBNAILS": False, "ALERT_REPORTS": False, "TAGGING_SYSTEM": False}
SQLLAB_CTAS_NO_LIMIT = False
CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 300}
DATA_CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 300}
RATELIMIT_STORAGE_URI = "memory://"
# Content Security Policy (Talisman): Superset's own, less every outside host (map tiles, web fonts, and the
# telemetry pixel of the frontend, which the browser then does not load). Plain HTTP on the loopback interface;
# behind a TLS reverse proxy set SESSION_COOKIE_SECURE = True.
TALISMAN_ENABLED = True
TALISMAN_CONFIG = {
    "content_security_policy": {
        "base-uri": ["'self'"],
        "default-src": ["'self'"],
        "img-src": ["'self'", "blob:", "data:"],
        "worker-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "object-src": "'none'",
        "style-src": ["'self'", "'unsafe-inline'"],
        "font-src": ["'self'", "data:"],
        "script-src": ["'self'", "'strict-dynamic'"],
    },
    "content_security_policy_nonce_in": ["script-src"],
    "force_https": False,
    "session_cookie_secure": False,
}
SESSION_COOKIE_SECURE = False
SESSION_COOKIE_SAMESITE = "Lax"
# The marts are read, never written, from Superset.
PREVENT_UNSAFE_DB_CONNECTIONS = True
