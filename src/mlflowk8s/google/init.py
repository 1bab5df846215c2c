"""What `init` does alike for both Google targets: the image it pins and the state bucket
it creates before writing files."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager

from mlflowk8s import server
from mlflowk8s.errors import OperationError
from mlflowk8s.google import settings as s

# Replaces https://<registry> when the image is pinned: a mirror of ghcr.io, or a stand-in.
REGISTRY_URL_ENV = "MLFLOWK8S_IMAGE_REGISTRY_URL"


def pin_server_image(environ: Mapping[str, str]) -> str:
    """``server.MLFLOW_IMAGE`` pinned by its index digest (asks the registry)."""
    from mlflowk8s import server_image

    try:
        return server_image.resolve(server.MLFLOW_IMAGE, base_url=environ.get(REGISTRY_URL_ENV))
    except OperationError as exc:
        raise OperationError(
            f"cannot pin {server.MLFLOW_IMAGE} by digest ({exc}): set "
            f"{s.MLFLOW_IMAGE}={server.MLFLOW_IMAGE}@sha256:<its index digest> in .env, "
            "or run `mlflowk8s init` again online"
        ) from exc


class GoogleInit:
    """The parts of a Google target's :class:`~mlflowk8s.targets.base.TargetInit` that
    are the same for both."""

    @staticmethod
    def pin_image(values: dict[str, str]) -> None:
        """Pinned once: a tag can move, and every server and apply must run the same image.
        An image the admin chose (or an earlier init pinned) stays."""
        if not values.get(s.MLFLOW_IMAGE):
            values[s.MLFLOW_IMAGE] = pin_server_image(os.environ)

    def prepare(
        self,
        values: Mapping[str, str],
        say: Callable[[str], None],
        busy: Callable[[str], AbstractContextManager[object]],
    ) -> bool:
        from mlflowk8s.google.state_bucket import prepare_state_bucket

        return prepare_state_bucket(
            values[s.PROJECT], values[s.STATE_BUCKET], values[s.REGION], say, busy
        )
