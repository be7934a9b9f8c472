"""``readout runs``: the runs of an experiment as rows of key params and metrics."""

from __future__ import annotations

from training.errors import ReadoutError

KEY_METRICS = ("val_macro_f1", "test_macro_f1", "val_micro_f1", "test_micro_f1")


def list_runs(experiment: str, sort: str, limit: int, tracking_uri: str | None) -> list[dict]:
    import mlflow

    from training.store import connect

    uri = connect(tracking_uri)
    client = mlflow.MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        names = [e.name for e in client.search_experiments()]
        raise ReadoutError(f"no experiment {experiment!r} at {uri} (experiments: {', '.join(names) or 'none'})")
    runs = client.search_runs([found.experiment_id], order_by=[f"metrics.`{sort}` DESC"], max_results=limit)
    rows = []
    for run in runs:
        params = {k.removeprefix("model."): v for k, v in run.data.params.items()
                  if k.startswith("model.") and k != "model.family"}
        rows.append({
            "run_name": run.info.run_name,
            "run_id": run.info.run_id,
            "status": run.info.status,
            "family": run.data.tags.get("family") or run.data.params.get("model.family"),
            "parent_run_id": run.data.tags.get("mlflow.parentRunId"),
            "data_digest": run.data.tags.get("data_digest"),
            "data": run.data.tags.get("data_path"),  # the data files, comma-separated
            sort: run.data.metrics.get(sort),
            **{m: run.data.metrics.get(m) for m in KEY_METRICS if m != sort},
            "params": params,
        })
    return rows
