"""The settings by topic, one class per heading of the configuration reference.

``config.Config`` mixes these classes in. Their modules declare settings with config.py's
``setting()``, so config.py imports them once it has defined it; importing ``config`` first
here keeps that order whichever module a caller imports first.
"""

import config  # noqa: F401
