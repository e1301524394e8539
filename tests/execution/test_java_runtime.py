"""The java17 and java21 runtimes (issue 13): handlers compiled here, with the runtime image's JDK, against
the com.amazonaws.services.lambda.runtime interfaces the runtime provides, as a zip with classes at the
root and lib/*.jar; RequestHandler, RequestStreamHandler and Class::method handlers with Map, POJO, String
and stream input and output; logs, warm reuse, a handler error, init errors, a timeout, a layer on /opt."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from support.functions import Functions
from support.invoking import invoke

COUNTER = """
package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.LambdaLogger;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.util.LinkedHashMap;
import java.util.Map;

public class Counter implements RequestHandler<Map<String, Object>, Map<String, Object>> {
    private static int count = 0;

    public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
        count++;
        LambdaLogger logger = context.getLogger();
        logger.log("java says " + count);
        System.out.println("stdout line " + count);
        if (Boolean.TRUE.equals(event.get("fail"))) {
            throw new IllegalStateException("java boom");
        }
        Object sleep = event.get("sleep");
        if (sleep != null) {
            try {
                Thread.sleep(((Number) sleep).longValue() * 1000);
            } catch (InterruptedException e) {
                throw new RuntimeException(e);
            }
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("count", count);
        out.put("version", System.getProperty("java.specification.version"));
        out.put("fn", context.getFunctionName());
        out.put("memory", context.getMemoryLimitInMB());
        out.put("remaining", context.getRemainingTimeInMillis() > 0);
        out.put("request", context.getAwsRequestId().length());
        out.put("arn", context.getInvokedFunctionArn());
        out.put("greeting", example.lib.Greeter.greet("lib"));
        out.put("layer", layered.Layered.VALUE);
        return out;
    }
}
"""

ORDERS = """
package example;

import com.amazonaws.services.lambda.runtime.Context;

public class Orders {
    public static class Order {
        public String item;
        public int quantity;
    }

    public static class Receipt {
        private final String item;
        private final int total;

        Receipt(String item, int total) {
            this.item = item;
            this.total = total;
        }

        public String getItem() {
            return item;
        }

        public int getTotal() {
            return total;
        }
    }

    public Receipt place(Order order, Context context) {
        return new Receipt(order.item, order.quantity * 3);
    }

    public static String shout(String text) {
        return text.toUpperCase();
    }
}
"""

ECHO = """
package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestStreamHandler;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

public class Echo implements RequestStreamHandler {
    public void handleRequest(InputStream in, OutputStream out, Context context) throws IOException {
        byte[] event = in.readAllBytes();
        out.write(("{\\"echo\\":" + new String(event, "UTF-8") + "}").getBytes("UTF-8"));
    }
}
"""

GREETER = """
package example.lib;

public final class Greeter {
    public static String greet(String who) {
        return "hello from " + who;
    }
}
"""

LAYERED = """
package layered;

public final class Layered {
    public static final String VALUE = "from /opt";
}
"""

# Compiled in the runtime's own image: its JDK, and the interfaces jar at the path the README gives.
BUILD = """
set -e
CORE=/var/runtime/lib/aws-lambda-java-core.jar
mkdir -p out/greeter out/layered out/fn out/zip/lib out/layer/java/lib
javac -d out/greeter src/example/lib/Greeter.java && jar cf out/zip/lib/greeter.jar -C out/greeter .
javac -d out/layered src/layered/Layered.java && jar cf out/layer/java/lib/layered.jar -C out/layered .
javac -cp $CORE:out/zip/lib/greeter.jar:out/layer/java/lib/layered.jar -d out/zip \
  src/example/Counter.java src/example/Orders.java src/example/Echo.java
"""


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module", params=["java17", "java21"])
def java(request: pytest.FixtureRequest, docker_client: docker.DockerClient, runtime_images: dict[str, str],
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, bytes], dict[str, bytes]]]:
    """(runtime, the function's zip files, the layer's files), compiled with that runtime's JDK."""
    runtime = str(request.param)
    work = tmp_path_factory.mktemp(runtime)
    for rel, text in {"example/Counter.java": COUNTER, "example/Orders.java": ORDERS, "example/Echo.java": ECHO,
                      "example/lib/Greeter.java": GREETER, "layered/Layered.java": LAYERED}.items():
        (work / "src" / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / "src" / rel).write_text(text)
    docker_client.containers.run(runtime_images[runtime], ["sh", "-c", BUILD], entrypoint=[], working_dir="/work",
                                 volumes={str(work): {"bind": "/work", "mode": "rw"}}, remove=True,
                                 network_mode="none")
    yield runtime, _files(work / "out" / "zip"), _files(work / "out" / "layer")


def test_java_request_handler_logs_errors_timeout_layers_and_warm_reuse(
    client: Any, fns: Functions, java: tuple[str, dict[str, bytes], dict[str, bytes]],
) -> None:
    runtime, code, layer_files = java
    assert "example/Counter.class" in code and "lib/greeter.jar" in code  # classes at the root, lib/*.jar
    name = f"rt-{runtime}"
    layer = fns.publish_layer(f"{name}-layer", layer_files)
    fns.create(name, code, runtime=runtime, handler="example.Counter", layers=[layer], memory=256)
    first = invoke(client, name, {}, tail=True)
    assert first.status_code == 200 and "X-Amz-Function-Error" not in first.headers, first.get_data(as_text=True)
    out = first.get_json()
    assert out["count"] == 1 and out["version"] == runtime.removeprefix("java"), out
    assert out["fn"] == name and out["memory"] == 256 and out["remaining"] is True and out["request"] == 36
    assert out["arn"].endswith(f":function:{name}") and out["greeting"] == "hello from lib"
    assert out["layer"] == "from /opt"
    tail = base64.b64decode(first.headers["X-Amz-Log-Result"]).decode()
    assert "java says 1" in tail and "stdout line 1" in tail and "REPORT RequestId" in tail, tail
    assert invoke(client, name, {}).get_json()["count"] == 2  # warm: the same JVM

    failed = invoke(client, name, {"fail": True})
    assert failed.headers["X-Amz-Function-Error"] == "Unhandled"
    error = failed.get_json()
    assert (error["errorType"], error["errorMessage"]) == ("java.lang.IllegalStateException", "java boom"), error
    assert error["stackTrace"] and error["stackTrace"][0].startswith("example.Counter.handleRequest(Counter.java:")

    fns.update_config(name, timeout=1)
    late = invoke(client, name, {"sleep": 3})
    assert late.headers["X-Amz-Function-Error"] == "Unhandled"
    assert "Task timed out after 1.00 seconds" in late.get_json()["errorMessage"]

    fns.create(f"{name}-noclass", code, runtime=runtime, handler="example.Missing")
    missing = invoke(client, f"{name}-noclass", {}).get_json()
    assert (missing["errorType"], missing["errorMessage"]) == (
        "java.lang.ClassNotFoundException", "Class not found: example.Missing"), missing
    fns.create(f"{name}-nomethod", code, runtime=runtime, handler="example.Orders::nothing")
    nomethod = invoke(client, f"{name}-nomethod", {}).get_json()
    assert nomethod["errorType"] == "java.lang.RuntimeException", nomethod
    assert "No public method named nothing" in nomethod["errorMessage"]


def test_java_pojo_string_and_stream_handlers(
    client: Any, fns: Functions, java: tuple[str, dict[str, bytes], dict[str, bytes]],
) -> None:
    runtime, code, _layer = java
    fns.create(f"{runtime}-pojo", code, runtime=runtime, handler="example.Orders::place")
    placed = invoke(client, f"{runtime}-pojo", {"item": "tea", "quantity": 2, "note": "unknown fields are fine"})
    assert placed.get_json() == {"item": "tea", "total": 6}, placed.get_data(as_text=True)
    fns.create(f"{runtime}-string", code, runtime=runtime, handler="example.Orders::shout")
    assert invoke(client, f"{runtime}-string", "hello").get_json() == "HELLO"
    # An object where the handler takes a String: Lambda's JSON parsing error, not a crash.
    bad = invoke(client, f"{runtime}-string", {"not": "a string"})
    assert bad.headers["X-Amz-Function-Error"] == "Unhandled"
    assert bad.get_json()["errorMessage"] == "An error occurred during JSON parsing", bad.get_json()
    fns.create(f"{runtime}-stream", code, runtime=runtime, handler="example.Echo")
    assert invoke(client, f"{runtime}-stream", {"a": [1, 2]}).get_json() == {"echo": {"a": [1, 2]}}
