"""The portal's own settings, with STATIC_ROOT moved to the run's temporary directory.

portal.settings fixes STATIC_ROOT under var/; the bench collects static files
into a throwaway directory instead (BENCH_STATIC_ROOT), so a run never
touches the developer's var/. Nothing else differs.
"""

import os

from portal.settings import *  # noqa: F403

STATIC_ROOT = os.environ["BENCH_STATIC_ROOT"]
