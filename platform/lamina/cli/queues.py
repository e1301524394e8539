"""``lamina queues``: lamina's queues API (/lamina/v1/queues), the sources of event source mappings."""

from __future__ import annotations

import sys

import click

from lamina.cli.client import LaminaClient, quote
from lamina.cli.functions import api_options
from lamina.cli.kinds import Kind, Verb, arg, collection, make_group, opt
from lamina.cli.output import emit

BASE = "/lamina/v1/queues"


@click.command("send")
@click.argument("name")
@click.argument("bodies", nargs=-1, required=True)
@click.option("--delay", type=int, default=0, help="DelaySeconds (0-900).")
@api_options
def send(name: str, bodies: tuple[str, ...], delay: int, endpoint: str, token: str | None, as_json: bool) -> None:
    """Send one message, or a batch of up to 10 (each BODY is a message; - reads one from standard input)."""
    texts = [sys.stdin.read() if b == "-" else b for b in bodies]
    client = LaminaClient(endpoint, token)
    path = f"{BASE}/{quote(name)}/messages"
    if len(texts) == 1:
        emit(client.json("POST", path, {"MessageBody": texts[0], "DelaySeconds": delay}), as_json)
        return
    entries = [{"Id": str(i), "MessageBody": t} for i, t in enumerate(texts)]
    data = client.json("POST", path, {"Entries": entries, "DelaySeconds": delay})
    emit(data, as_json, [("ID", "Id"), ("MESSAGE ID", "MessageId")], rows_key="Successful")


KIND = Kind(
    group="queues",
    help="Lamina queues: SQS-like queues in Redis, the sources of event source mappings.",
    path=collection(BASE),
    id_arg="name",
    columns=[("NAME", "QueueName"), ("VISIBLE", "ApproximateNumberOfMessages"),
             ("IN FLIGHT", "ApproximateNumberOfMessagesNotVisible"), ("VISIBILITY", "VisibilityTimeout"),
             ("MAX RECEIVES", "MaxReceiveCount"), ("DEAD LETTER", "DeadLetterQueueArn")],
    verbs=(
        Verb("create", "POST", with_id=False, opts=(
            arg("name", "QueueName"),
            opt("--visibility-timeout", key="VisibilityTimeout", type=int, default=None,
                help="Seconds a received message stays hidden."),
            opt("--max-receive-count", key="MaxReceiveCount", type=int, default=None,
                help="Receives before the dead-letter queue."),
            opt("--dead-letter", key="DeadLetterQueue", default=None, help="Dead-letter queue (name or ARN)."),
        )),
        Verb("list", "GET", with_id=False, rows_key="Queues"),
        Verb("get", "GET", show="detail"),
        Verb("receive", "POST", sub="/receive", rows_key="Messages",
             columns=[("MESSAGE ID", "MessageId"), ("RECEIVES", "Attributes.ApproximateReceiveCount"),
                      ("BODY", "Body")],
             help="Receive messages for inspection (they are hidden for the visibility timeout, not deleted).",
             opts=(
                 opt("--max", "max_messages", key="MaxNumberOfMessages", type=int, default=10, show_default=True),
                 opt("--visibility-timeout", key="VisibilityTimeout", type=int, default=None,
                     help="Hide them this long (default: the queue's)."),
             )),
        Verb("purge", "POST", sub="/purge", show="done", done="purged queue {id}"),
        Verb("delete", "DELETE", show="done", done="deleted queue {id}"),
    ),
    extra=(send,),
)

queues = make_group(KIND)


def queue_arn(client: LaminaClient, source: str) -> str:
    """A queue's ARN from its name (or the ARN itself)."""
    return source if source.startswith("arn:") else client.json("GET", f"{BASE}/{quote(source)}")["QueueArn"]
