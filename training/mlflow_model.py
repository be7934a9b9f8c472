"""The MLflow pyfunc for a trained ``Tagger``, logged "models from code" style.

``mlflow.pyfunc.load_model(uri).predict(pd.DataFrame({"text": [...]}))`` returns one row per
sentence: ``labels`` (the labels that reach their thresholds, joined by ";") and one probability
column per label, in the model's label order.
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
        if isinstance(model_input, pd.DataFrame):
            texts = model_input["text"] if "text" in model_input else model_input.iloc[:, 0]
        else:
            texts = model_input
        texts = [str(t) for t in texts]
        proba = self.tagger.predict_proba(texts)
        on = self.tagger.decide(proba)
        labels = self.tagger.labels
        out = pd.DataFrame({"labels": [";".join(l for l, flag in zip(labels, row) if flag) for row in on]})
        for j, label in enumerate(labels):
            out[label] = proba[:, j]
        return out


mlflow.models.set_model(ReadoutTaggerModel())
