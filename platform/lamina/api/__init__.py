"""Lambda API 2015-03-31 blueprints; ``register`` mounts them all on an app."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from lamina.api import errors, health, invoke, logs

    errors.init_app(app)
    from lamina.api import auth

    auth.init_app(app)
    app.register_blueprint(health.bp)
    from lamina.api import (
        account,
        aliases,
        concurrency,
        event_invoke,
        functions,
        layers,
        openapi,
        provisioned,
        tags,
        versions,
    )

    for module in (functions, versions, aliases, layers, tags, concurrency, provisioned, event_invoke, account,
                   openapi):
        app.register_blueprint(module.bp)
    invoke.init_app(app)
    app.register_blueprint(logs.bp)
    from lamina.api import aws_json, metrics

    app.register_blueprint(metrics.bp)
    app.register_blueprint(aws_json.bp)
    from lamina.api import event_sources, invoke_async, queues, schedules, streams, urls, volumes

    for module in (schedules, queues, streams, volumes, event_sources, urls, invoke_async):
        app.register_blueprint(module.bp)
    from lamina.api import deployments, durability, fleet, iam, policies, usage

    app.register_blueprint(deployments.bp)
    app.register_blueprint(iam.bp)
    app.register_blueprint(policies.bp)
    app.register_blueprint(fleet.bp)
    app.register_blueprint(usage.bp)
    durability.init_app(app)
