"""Settings for the test suite: the installation's own settings, with a broker folder of the run's own.

Tests queue real tasks (an inspection to run, a job to stream) on the broker the settings name. With the
embedded filesystem broker that was the shop's ``var/broker``, so a test run left messages behind that the
shop's workers consumed on the next ``make run`` (inspections of requests that do not exist there, and in
principle runs of job ids that do). Each test session now gets a fresh folder. Worker processes that the
tests start inherit ``MES_TEST_BROKER_DIR`` and so share it; only the process that made the folder removes
it. Server brokers are chosen by the person running the tests: CI gives them a Redis database of their own.
"""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from mes.settings import *  # noqa: F403 (this module is the settings plus one change)
from mes.settings import CELERY_BROKER_URL, filesystem_broker_options

if CELERY_BROKER_URL.startswith("filesystem://"):
    if "MES_TEST_BROKER_DIR" not in os.environ:
        os.environ["MES_TEST_BROKER_DIR"] = tempfile.mkdtemp(prefix="mes-test-broker-")
        atexit.register(shutil.rmtree, os.environ["MES_TEST_BROKER_DIR"], ignore_errors=True)
    CELERY_BROKER_DIR = Path(os.environ["MES_TEST_BROKER_DIR"])
    CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_broker_options(CELERY_BROKER_DIR)
