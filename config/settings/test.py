"""Test settings: fast hashing, outbound mail in memory, same services as CI gives."""

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY", default="test-secret-key-not-for-production-0123456789")
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PUBLIC_BASE_URL = "https://helpline.example.org"
TWILIO_AUTH_TOKEN = "test-twilio-auth-token"
TWILIO_ACCOUNT_SID = "ACtest00000000000000000000000000"
ALLOWED_HOSTS = ["*"]
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
# Tests call tasks directly or through a real worker (tests/faults); never publish
# from a plain unit test to whatever broker happens to be configured.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
# Suites that submit dozens of requests within a second would trip the new-number breaker; its own
# tests (tests/helpline/test_callback_abuse.py) set a small limit.
ADMISSION_NEW_NUMBERS_PER_HOUR = env.int("ADMISSION_NEW_NUMBERS_PER_HOUR", default=10_000)
