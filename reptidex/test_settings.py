"""Settings for the test suite: the real settings with test-only speedups."""

import os
import uuid

os.environ.setdefault("DEBUG", "1")

from reptidex.settings import *  # noqa: E402,F403
from reptidex.settings import CACHES

# Each run gets its own Redis key prefix and Celery queue, so a suite never reads or
# consumes what a concurrent `make run` (or another suite) put in the same Redis.
RUN_ID = uuid.uuid4().hex[:8]
CACHES["default"]["KEY_PREFIX"] = f"reptidex-test-{RUN_ID}"
CELERY_TASK_DEFAULT_QUEUE = f"reptidex-test-{RUN_ID}"
# The same goes for the test database: two suites on one server never drop each
# other's database. pytest-django drops it at the end of the run.
DATABASES["default"]["TEST"] = {"NAME": f"test_reptidex_{RUN_ID}"}  # noqa: F405

# The test servers serve static files themselves; WhiteNoise would only warn that
# STATIC_ROOT was never collected.
MIDDLEWARE = [m for m in MIDDLEWARE if m != "whitenoise.middleware.WhiteNoiseMiddleware"]  # noqa: F405

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES["staticfiles"]["BACKEND"] = (  # noqa: F405
    "django.contrib.staticfiles.storage.StaticFilesStorage"
)
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False

# Tasks run in-process unless a test asks for the real worker (the `celery_worker`
# fixture in tests/conftest.py turns this off for its tests).
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
