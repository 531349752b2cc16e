"""The store fixtures (a two-site cohort, one user per role) for the feed and import tests."""

from tests.store.conftest import _fast_password_hashing, loaded, small_cohort, users  # noqa: F401
