"""The MLflow pyfunc for a trained ``Tagger``, logged "models from code" style.

``mlflow.pyfunc.load_model(uri).predict(pd.DataFrame({"text": [...], "doc_id": [...]}))`` returns
one row per sentence: ``labels`` (the labels that reach their thresholds, joined by ";") and one
probability column per label, in the model's label order. ``doc_id`` is optional: rows sharing
one are a readout in reading order (each other's context); rows without one are tagged alone.
It calls ``Tagger.predict``, the same code path as ``readout tag``.
"""

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel


class ReadoutTaggerModel(PythonModel):
    def load_context(self, context):
        from models.tagger import Tagger

        self.tagger = Tagger.load(context.artifacts["tagger"])

    # The DataFrame hint infers no schema (the logged signature is explicit); without a hint MLflow
    # warns on every load.
    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        if not isinstance(model_input, pd.DataFrame):
            model_input = pd.DataFrame({"text": list(model_input)})
        texts = model_input["text"] if "text" in model_input else model_input.iloc[:, 0]
        doc_ids = None
        if "doc_id" in model_input:
            doc_ids = [None if pd.isna(d) else str(d) for d in model_input["doc_id"]]
        predictions = self.tagger.predict([str(t) for t in texts], doc_ids)
        out = pd.DataFrame({"labels": [";".join(p.labels) for p in predictions]})
        for label in self.tagger.labels:
            out[label] = [p.scores[label] for p in predictions]
        return out


mlflow.models.set_model(ReadoutTaggerModel())
