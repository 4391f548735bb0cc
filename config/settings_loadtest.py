"""The settings of `make loadtest`'s server: the product's, with the bare view beside its URLs
(config.loadtest)."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "config.loadtest"
