"""readout-tagger: train, track and serve cooperation-area classifiers for meeting readouts.

The pipeline, top to bottom: ``config`` -> ``data`` -> ``models.<family>`` -> ``evaluate`` /
``thresholds`` -> ``tracking``; ``predict`` serves a trained ``Tagger`` to the ``cli``.
"""

import os

__version__ = "0.1.0"

# MLflow reports usage to an outside host unless told not to; this package opts out for its users
# (set MLFLOW_DISABLE_TELEMETRY=false to opt back in).
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
