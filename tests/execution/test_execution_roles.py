"""Execution roles from inside a running function: its credentials carry exactly the role's rights and
work only while the environment runs an invocation (issue 5, items 4 and 9).

One caller signs with a small SigV4 signer of its own, another with the boto3 the Python runtime ships
(issue 13); boto3 on the host then tries the same credentials after the invocation.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from lamina.services.iam import iam
from support.gateway import serve_on_gateway
from support.invoking import invoke
from support.lambda_api import ROLE

CALLER = r'''
import datetime, hashlib, hmac, json, os, urllib.error, urllib.parse, urllib.request

def _sign(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()

def call(method, path, body=b""):
    endpoint = os.environ["AWS_ENDPOINT_URL_LAMBDA"]
    host = urllib.parse.urlsplit(endpoint).netloc
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    token = os.environ["AWS_SESSION_TOKEN"]
    headers = {"host": host, "x-amz-date": amz_date, "x-amz-security-token": token}
    signed = ";".join(sorted(headers))
    canonical = "\n".join([method, urllib.parse.quote(path, safe="/~"), "",
                           "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)), signed,
                           hashlib.sha256(body).hexdigest()])
    scope = f"{day}/us-east-1/lambda/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _sign(_sign(_sign(_sign(("AWS4" + os.environ["AWS_SECRET_ACCESS_KEY"]).encode(), day), "us-east-1"),
                      "lambda"), "aws4_request")
    sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    auth = (f"AWS4-HMAC-SHA256 Credential={os.environ['AWS_ACCESS_KEY_ID']}/{scope}, "
            f"SignedHeaders={signed}, Signature={sig}")
    req = urllib.request.Request(endpoint + path, data=body or None, method=method,
                                 headers={"X-Amz-Date": amz_date, "X-Amz-Security-Token": token,
                                          "Authorization": auth})
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("X-Amzn-ErrorType", "")

def handler(event, context):
    if event.get("sleep"):
        import time
        time.sleep(event["sleep"])
        return "slept"
    if event.get("creds"):  # the thief: credentials copied out of another environment
        os.environ.update(event["creds"])
        return {"get_target": call("GET", "/2015-03-31/functions/target")}
    return {
        "invoke_allowed": call("POST", "/2015-03-31/functions/target/invocations", b'{"from": "caller"}'),
        "invoke_other": call("POST", "/2015-03-31/functions/other/invocations", b"{}"),
        "get_target": call("GET", "/2015-03-31/functions/target"),
        "list": call("GET", "/2015-03-31/functions"),
        "creds": {k: os.environ[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")},
    }
'''
TARGET = "def handler(event, context):\n    return {'target got': event}\n"


@pytest.fixture
def reachable_server(app: Any, invoker: Any, docker_client: Any, settings: Any) -> Iterator[str]:
    """The API on the function network's gateway address, which the function's endpoint points at."""
    with serve_on_gateway(app, docker_client, settings, invoker) as url:
        yield url


def test_a_role_that_may_invoke_one_function_and_nothing_else(client: Any, fns: Any, components: Any,
                                                              reachable_server: str) -> None:
    account = components.settings.account_id
    target_arn = f"arn:aws:lambda:us-east-1:{account}:function:target"
    role = ROLE.rsplit("/", 1)[1]
    iam.put_role(components, account, role, [{"Action": ["lambda:InvokeFunction"], "Resource": [target_arn]}])
    for name, code in (("caller", CALLER), ("target", TARGET), ("other", TARGET)):
        fns.create(name, {"app.py": code}, timeout=30)
    resp = invoke(client, "caller", {})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    out = resp.get_json()
    status, body = out["invoke_allowed"]
    assert status == 200 and json.loads(body) == {"target got": {"from": "caller"}}
    assert out["invoke_other"] == [403, "AccessDeniedException"]
    assert out["get_target"] == [403, "AccessDeniedException"]
    assert out["list"] == [403, "AccessDeniedException"]

    # After the invocation the same credentials are dead: the environment is no longer running.
    import boto3

    creds = out["creds"]
    outside = boto3.client("lambda", endpoint_url=reachable_server, region_name="us-east-1",
                           aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
                           aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
                           aws_session_token=creds["AWS_SESSION_TOKEN"])
    with pytest.raises(ClientError) as err:
        outside.invoke(FunctionName="target", Payload=b"{}")
    assert err.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_role_credentials_work_only_from_their_own_environment(client: Any, fns: Any, components: Any,
                                                               reachable_server: str) -> None:
    account = components.settings.account_id
    role = ROLE.rsplit("/", 1)[1]
    iam.put_role(components, account, role, [{"Action": ["lambda:GetFunction"], "Resource": ["*"]}])
    for name, code in (("owner", CALLER), ("thief", CALLER), ("target", TARGET), ("other", TARGET)):
        fns.create(name, {"app.py": code}, timeout=30)
    own = invoke(client, "owner", {}).get_json()
    assert own["get_target"][0] == 200  # from its own environment, while it runs
    app = client.application
    holder = threading.Thread(target=lambda: invoke(app.test_client(), "owner", {"sleep": 4}))
    holder.start()  # the owner's environment is busy: its credentials are live now
    try:
        import time

        time.sleep(1.0)
        stolen = invoke(client, "thief", {"creds": own["creds"]}).get_json()
        assert stolen["get_target"] == [403, "UnrecognizedClientException"], stolen
        import boto3

        outside = boto3.client("lambda", endpoint_url=reachable_server, region_name="us-east-1",
                               aws_access_key_id=own["creds"]["AWS_ACCESS_KEY_ID"],
                               aws_secret_access_key=own["creds"]["AWS_SECRET_ACCESS_KEY"],
                               aws_session_token=own["creds"]["AWS_SESSION_TOKEN"])
        with pytest.raises(ClientError) as err:
            outside.get_function(FunctionName="target")
        assert err.value.response["Error"]["Code"] == "UnrecognizedClientException"
    finally:
        holder.join()


BOTO3_CALLER = r'''
import json
import threading
import boto3
from botocore.exceptions import ClientError

def handler(event, context):
    client = boto3.client("lambda")  # endpoint, region and the role's credentials from the environment
    out = {"boto3": boto3.__version__}
    got = client.invoke(FunctionName="target", Payload=json.dumps({"from": "boto3"}))
    out["allowed"] = json.loads(got["Payload"].read())
    try:
        client.invoke(FunctionName="other", Payload=b"{}")
        out["denied"] = None
    except ClientError as err:
        out["denied"] = err.response["Error"]["Code"]
    return out
'''


def test_boto3_inside_a_function_invokes_another_with_the_callers_role(
    client: Any, fns: Any, components: Any, reachable_server: str,
) -> None:
    account = components.settings.account_id
    role = ROLE.rsplit("/", 1)[1]
    iam.put_role(components, account, role, [{"Action": ["lambda:InvokeFunction"],
                                              "Resource": [f"arn:aws:lambda:us-east-1:{account}:function:target"]}])
    for name, code in (("sdk-caller", BOTO3_CALLER), ("target", TARGET), ("other", TARGET)):
        fns.create(name, {"app.py": code}, timeout=30, memory=512)
    resp = invoke(client, "sdk-caller", {})
    assert resp.status_code == 200 and "X-Amz-Function-Error" not in resp.headers, resp.get_data(as_text=True)
    out = resp.get_json()
    assert out["allowed"] == {"target got": {"from": "boto3"}}
    assert out["denied"] == "AccessDeniedException"
    assert out["boto3"] == "1.44.8"  # the pinned SDK of runtimes/python/requirements.txt


NODE_SDK_CALLER = """
const { LambdaClient, InvokeCommand } = require('@aws-sdk/client-lambda');
exports.handler = async () => {
  const client = new LambdaClient({});  // endpoint, region and credentials from the environment
  const payload = JSON.stringify({ from: 'sdk v3' });
  const got = await client.send(new InvokeCommand({ FunctionName: 'target', Payload: payload }));
  let denied = null;
  try {
    await client.send(new InvokeCommand({ FunctionName: 'other', Payload: '{}' }));
  } catch (err) {
    denied = err.name;
  }
  return { allowed: JSON.parse(Buffer.from(got.Payload).toString()), denied };
};
"""


@pytest.mark.parametrize("runtime", ["nodejs18.x", "nodejs20.x", "nodejs22.x"])
def test_the_aws_sdk_v3_inside_a_nodejs_function_uses_the_callers_role(
    client: Any, fns: Any, components: Any, reachable_server: str, runtime: str,
) -> None:
    account = components.settings.account_id
    role = ROLE.rsplit("/", 1)[1]
    iam.put_role(components, account, role, [{"Action": ["lambda:InvokeFunction"],
                                              "Resource": [f"arn:aws:lambda:us-east-1:{account}:function:target"]}])
    fns.create("sdk-node", {"index.js": NODE_SDK_CALLER}, runtime=runtime, handler="index.handler", timeout=30,
               memory=512)
    for name in ("target", "other"):
        fns.create(name, {"app.py": TARGET}, timeout=30)
    resp = invoke(client, "sdk-node", {})
    assert resp.status_code == 200 and "X-Amz-Function-Error" not in resp.headers, resp.get_data(as_text=True)
    assert resp.get_json() == {"allowed": {"target got": {"from": "sdk v3"}}, "denied": "AccessDeniedException"}


def test_functions_without_a_defined_role_get_no_credentials(client: Any, fns: Any) -> None:
    fns.create("plain", {"app.py": "import os\ndef handler(e, c):\n    return sorted(k for k in os.environ "
                                  "if k.startswith('AWS_') and ('KEY' in k or 'TOKEN' in k))\n"})
    resp = invoke(client, "plain", {})
    assert resp.get_json() == []


SQS_PY = r'''
import boto3
from botocore.exceptions import ClientError

def handler(event, context):
    sqs = boto3.client("sqs")  # AWS_ENDPOINT_URL_SQS, region and the role's credentials from the environment
    url = sqs.get_queue_url(QueueName="allowed")["QueueUrl"]
    sent = sqs.send_message(QueueUrl=url, MessageBody="from python",
                            MessageAttributes={"lang": {"DataType": "String", "StringValue": "py"}})
    try:
        sqs.send_message(QueueUrl=url.replace("allowed", "forbidden"), MessageBody="no")
        denied = None
    except ClientError as err:
        denied = err.response["Error"]["Code"]
    return {"sent": sent["MessageId"], "denied": denied}
'''

KINESIS_PY = r'''
import boto3
from botocore.exceptions import ClientError

def handler(event, context):
    kinesis = boto3.client("kinesis")  # AWS_ENDPOINT_URL_KINESIS and the role's credentials
    put = kinesis.put_record(StreamName="allowed", Data=b"from a function", PartitionKey="k")
    try:
        kinesis.put_record(StreamName="forbidden", Data=b"no", PartitionKey="k")
        denied = None
    except ClientError as err:
        denied = err.response["Error"]["Code"]
    return {"shard": put["ShardId"], "denied": denied}
'''

SQS_NODE = """
const { SQSClient, GetQueueUrlCommand, SendMessageCommand, ReceiveMessageCommand,
        DeleteMessageCommand } = require('@aws-sdk/client-sqs');
exports.handler = async () => {
  const sqs = new SQSClient({});  // the SDK checks the MD5 digests of what it sends and receives
  const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: 'allowed' }));
  await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'from node',
    MessageAttributes: { lang: { DataType: 'String', StringValue: 'js' } } }));
  const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10,
    MessageAttributeNames: ['All'], WaitTimeSeconds: 1 }));
  for (const m of got.Messages) {
    await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle }));
  }
  return got.Messages.map((m) => [m.Body, m.MessageAttributes.lang.StringValue]).sort();
};
"""


def test_the_sdks_inside_functions_reach_sqs_with_the_roles_grant(
    client: Any, fns: Any, components: Any, reachable_server: str,
) -> None:
    account = components.settings.account_id
    role = ROLE.rsplit("/", 1)[1]
    allowed = f"arn:aws:sqs:us-east-1:{account}:allowed"
    iam.put_role(components, account, role, [{"Action": ["sqs:*"], "Resource": [allowed]}])
    for name in ("allowed", "forbidden"):
        assert client.post("/lamina/v1/queues", json={"QueueName": name}).status_code == 201
    fns.create("sqs-py", {"app.py": SQS_PY}, timeout=30, memory=512)
    resp = invoke(client, "sqs-py", {})
    assert resp.status_code == 200 and "X-Amz-Function-Error" not in resp.headers, resp.get_data(as_text=True)
    assert resp.get_json()["denied"] == "AccessDenied"
    fns.create("sqs-node", {"index.js": SQS_NODE}, runtime="nodejs20.x", handler="index.handler", timeout=30,
               memory=512)
    resp = invoke(client, "sqs-node", {})
    assert resp.status_code == 200 and "X-Amz-Function-Error" not in resp.headers, resp.get_data(as_text=True)
    assert resp.get_json() == [["from node", "js"], ["from python", "py"]]
    forbidden = client.get("/lamina/v1/queues/forbidden").get_json()
    assert forbidden["ApproximateNumberOfMessages"] == 0


def test_boto3_inside_a_function_puts_kinesis_records_with_the_roles_grant(
    client: Any, fns: Any, components: Any, reachable_server: str,
) -> None:
    from lamina.services.streams import streams

    account = components.settings.account_id
    role = ROLE.rsplit("/", 1)[1]
    iam.put_role(components, account, role, [{"Action": ["kinesis:PutRecord"],
                                              "Resource": [f"arn:aws:kinesis:us-east-1:{account}:stream/allowed"]}])
    for name in ("allowed", "forbidden"):
        streams.create(components, account, name, 1)
    fns.create("kinesis-py", {"app.py": KINESIS_PY}, timeout=30, memory=512)
    resp = invoke(client, "kinesis-py", {})
    assert resp.status_code == 200 and "X-Amz-Function-Error" not in resp.headers, resp.get_data(as_text=True)
    assert resp.get_json() == {"shard": "shardId-000000000000", "denied": "AccessDeniedException"}
    allowed = streams.load(components, account, "allowed")
    records, _, _ = streams.read(components, allowed, allowed.shards[0], "0-0", 10)
    assert [r.data for r in records] == [b"from a function"]
