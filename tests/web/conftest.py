"""The store fixtures are shared with the web tests."""

from tests.store.conftest import _fast_password_hashing, loaded, small_cohort, users  # noqa: F401
