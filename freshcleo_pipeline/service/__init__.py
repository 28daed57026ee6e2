"""The HTTP receiver (Starlette, served by uvicorn): FreshBooks webhooks, the OAuth redirect, health."""

from freshcleo_pipeline.service.app import build_app, create_app
from freshcleo_pipeline.service.server import BackgroundServer, serve

__all__ = ["BackgroundServer", "build_app", "create_app", "serve"]
