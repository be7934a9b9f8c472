"""The model registry: register a run's model, apply the promotion policy, move an alias."""

from __future__ import annotations

from training.errors import ReadoutError


def register(model_uri: str, run_id: str, name: str, alias: str, promote: str, metric: str, uri: str):
    """Register a logged model and apply the promotion policy; returns (version, promoted).

    Anything that goes wrong (or Ctrl-C) after the version exists deletes it again, so a failed
    training never leaves a half-registered model behind.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient(uri)
    version = None
    try:
        version = mlflow.register_model(model_uri, name, tags={"run_id": run_id}).version
        promoted = _should_promote(client, name, alias, promote, run_id, metric)
        if promoted:
            try:
                client.set_registered_model_alias(name, alias, version)
            except MlflowException:
                # Another training gave the alias out between our check and our move (a team
                # server's store then refuses a second new alias): decide again, now that it exists.
                promoted = _should_promote(client, name, alias, promote, run_id, metric)
                if promoted:
                    client.set_registered_model_alias(name, alias, version)
        return int(version), promoted
    except BaseException:
        if version is not None:
            client.delete_model_version(name, version)
        raise


def _should_promote(client, name: str, alias: str, policy: str, run_id: str, metric: str) -> bool:
    if policy in ("always", "never"):
        return policy == "always"
    current = alias_version(client, name, alias)
    if current is None:
        return True
    if policy == "if_none":
        return False
    ours = client.get_run(run_id).data.metrics.get(metric, float("-inf"))
    theirs = client.get_run(current.run_id).data.metrics.get(metric, float("-inf")) if current.run_id else float("-inf")
    return ours > theirs


def alias_version(client, name: str, alias: str):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def promote(version: int, name: str, alias: str, tracking_uri: str | None) -> int | None:
    """Give ``alias`` to ``version`` of model ``name``; returns the version that held it before."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from training.store import connect

    uri = connect(tracking_uri)
    client = mlflow.MlflowClient(uri)
    try:
        client.get_model_version(name, str(version))
    except MlflowException:
        raise ReadoutError(f"no version {version} of model {name!r} at {uri}") from None
    previous = alias_version(client, name, alias)
    client.set_registered_model_alias(name, alias, str(version))
    return int(previous.version) if previous else None
