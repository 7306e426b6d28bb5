"""Fixtures for the storage tests: loopback servers for the cloud providers, and the
platform (``shoal serve``) for hub:// paths.

The fixtures live in ``tests/servers/`` (``s3_fixtures``, ``gcs_fixtures``,
``platform_fixtures``). They are imported here rather than listed in ``pytest_plugins``:
pytest rejects ``pytest_plugins`` in a conftest below the top-level one as soon as the whole
suite is collected ("Defining 'pytest_plugins' in a non-top-level conftest is no longer
supported"). Imported fixtures also stay scoped to this directory, autouse ones included.
"""

from tests.servers.gcs_fixtures import *  # noqa: F403
from tests.servers.platform_fixtures import *  # noqa: F403
from tests.servers.s3_fixtures import *  # noqa: F403

# shared by the s3:// test modules (test_s3_*.py)
from .s3_support import open_s3 as open_s3
