import pytest

from tests.factories import make_shop


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Tests create many users; PBKDF2's deliberate slowness buys nothing here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def shop(db):
    return make_shop()


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path_factory):
    """Photos that tests store go to a temporary folder, never to the installation's var/media."""
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")
