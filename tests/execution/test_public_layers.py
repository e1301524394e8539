"""The public layers of layers/ (issue 13): Powertools for AWS Lambda, built from the package registries
and published at AWS's own ARNs, so `Layers=[...]` copied from AWS's documentation works unchanged;
every account lists and uses them; a second install publishes nothing new."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner
from lamina.services.functions import public_layers
from support.functions import Functions
from support.invoking import invoke

PYTHON = """
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
logger = Logger(service="orders")

@logger.inject_lambda_context
def handler(event: dict, context: LambdaContext):
    logger.info("placed", extra={"item": event["item"]})
    return {"ok": True}
"""

NODE = """
const { Logger } = require('@aws-lambda-powertools/logger');
const logger = new Logger({ serviceName: 'orders' });
exports.handler = async (event, context) => {
  logger.addContext(context);
  logger.info('placed', { item: event.item });
  return { ok: true };
};
"""


def test_powertools_layers_at_aws_arns_work_unchanged(client: Any, fns: Functions, components: Any) -> None:
    arns = public_layers.install(components, log=lambda m: None)
    by_name = {a.split(":")[6]: a for a in arns}
    assert set(by_name) == {"AWSLambdaPowertoolsPythonV3-python311-x86_64",
                            "AWSLambdaPowertoolsPythonV3-python313-x86_64", "AWSLambdaPowertoolsTypeScriptV2"}
    assert all(a.startswith("arn:aws:lambda:us-east-1:017000801446:layer:") for a in arns)
    assert public_layers.install(components, log=lambda m: None) == arns  # unchanged: no new version

    listed = client.get("/2018-10-31/layers").get_json()["Layers"]
    assert set(by_name) <= {layer["LayerName"] for layer in listed}

    fns.create("pt-python", {"app.py": PYTHON}, runtime="python3.13", memory=512,
               layers=[by_name["AWSLambdaPowertoolsPythonV3-python313-x86_64"]])
    got = invoke(client, "pt-python", {"item": "tea"}, tail=True)
    assert got.status_code == 200 and got.get_json() == {"ok": True}, got.get_data(as_text=True)
    import base64

    lines = [json.loads(line) for line in base64.b64decode(got.headers["X-Amz-Log-Result"]).decode().splitlines()
             if line.startswith("{")]
    assert any(r.get("message") == "placed" and r.get("item") == "tea" and r.get("service") == "orders"
               and r.get("function_name") == "pt-python" for r in lines), lines

    fns.create("pt-node", {"index.js": NODE}, runtime="nodejs20.x", handler="index.handler", memory=512,
               layers=[by_name["AWSLambdaPowertoolsTypeScriptV2"]])
    got = invoke(client, "pt-node", {"item": "tea"}, tail=True)
    assert got.status_code == 200 and got.get_json() == {"ok": True}, got.get_data(as_text=True)
    assert '"message":"placed"' in base64.b64decode(got.headers["X-Amz-Log-Result"]).decode()

    # A version lamina has not published is refused, naming the ARN.
    missing = by_name["AWSLambdaPowertoolsTypeScriptV2"].rsplit(":", 1)[0] + ":999"
    resp = client.post("/2015-03-31/functions", json={
        "FunctionName": "pt-missing", "Role": "arn:aws:iam::000000000000:role/x", "Runtime": "nodejs20.x",
        "Handler": "index.handler", "Code": {"ZipFile": "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="}, "Layers": [missing]})
    assert resp.status_code == 400 and missing in resp.get_json()["message"], resp.get_data(as_text=True)


def test_lamina_admin_install_layers_prints_the_arns(components: Any, monkeypatch: Any) -> None:
    from lamina.cli.main import cli

    monkeypatch.setattr("lamina.cli.admin._components", lambda settings=None: components)
    monkeypatch.setattr(components, "close", lambda: None)
    out = CliRunner().invoke(cli, ["admin", "install-layers"])
    assert out.exit_code == 0, out.output
    assert "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsTypeScriptV2:" in out.output
