from __future__ import annotations

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drportal.settings")
application = get_wsgi_application()

# What start-up built (modules, URL patterns, models, settings) lives as long as the worker. Frozen, it is no
# longer walked by every full collection: those took 100-130 ms on a page view and were the pages' p95
# (bench/pages.py: /scenarios/runs/N/ median 35 ms, p95 170 ms before; no spike after).
gc.freeze()
