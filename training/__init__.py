"""readout-tagger: train, track and serve cooperation-area classifiers for meeting readouts.

Training, top to bottom: ``config`` -> ``data`` -> ``train`` (``models.<family>``, ``thresholds``)
-> ``evaluate`` (a report) -> ``tracking`` (the MLflow run) -> ``registry``; ``store`` is where
runs go. Serving: ``references`` (which model) -> ``inputs`` (sentences or readouts) ->
``Tagger.predict`` -> ``outputs``; ``mlflow_model`` is the same model as an MLflow pyfunc.
"""

import os

__version__ = "0.1.0"

# MLflow reports usage to an outside host unless told not to; this package opts out for its users
# (set MLFLOW_DISABLE_TELEMETRY=false to opt back in).
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
