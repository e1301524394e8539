"""The newer runtimes (issue 13): python3.13, nodejs20.x and ruby3.3 on Debian trixie, nodejs22.x with
Node.js from the npm registry, each through the platform: its handler formats, warm reuse, logs, a
handler error, an init error, a timeout, a layer on /opt."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from support.functions import Functions
from support.invoking import invoke

PYTHON = """
import sys, boto3
count = 0
def handler(event, context):
    global count
    count += 1
    print("python says", count)
    if event.get("fail"):
        raise ValueError("python boom")
    if event.get("sleep"):
        import time; time.sleep(event["sleep"])
    import layered
    return {"version": list(sys.version_info[:2]), "count": count, "boto3": boto3.__version__,
            "layer": layered.VALUE, "fn": context.function_name}
"""

NODE = """
let count = 0;
exports.handler = async (event, context) => {
  count += 1;
  console.log('node says', count);
  if (event.fail) throw new TypeError('node boom');
  if (event.sleep) await new Promise((r) => setTimeout(r, event.sleep * 1000));
  return { version: process.versions.node.split('.')[0], count, fn: context.functionName,
           layer: require('layered').VALUE };
};
"""

NODE_ESM = """
export const handler = async (event, context) => ({ esm: true, event, fn: context.functionName });
"""

RUBY = """
$count = 0
def handler(event:, context:)
  $count += 1
  puts "ruby says #{$count}"
  raise ArgumentError, 'ruby boom' if event['fail']
  sleep(event['sleep']) if event['sleep']
  require 'layered'
  { 'version' => RUBY_VERSION[0, 3], 'count' => $count, 'fn' => context.function_name,
    'remaining' => context.get_remaining_time_in_millis > 0, 'layer' => Layered::VALUE }
end

module Shop
  class Orders
    def self.place(event:, context:)
      { 'placed' => event['item'], 'request' => context.aws_request_id.length }
    end
  end
end
"""

CASES = {
    "python3.13": {"files": {"app.py": PYTHON}, "handler": "app.handler", "says": "python says",
                   "layer": {"python/layered.py": "VALUE = 'from /opt'\n"}, "version": [3, 13],
                   "error": ("ValueError", "python boom"), "init_error": "Runtime.ImportModuleError"},
    "nodejs20.x": {"files": {"index.js": NODE}, "handler": "index.handler", "says": "node says",
                   "layer": {"nodejs/node_modules/layered/index.js": "exports.VALUE = 'from /opt';\n"},
                   "version": "20", "error": ("TypeError", "node boom"), "init_error": "Runtime.ImportModuleError"},
    "nodejs22.x": {"files": {"index.js": NODE}, "handler": "index.handler", "says": "node says",
                   "layer": {"nodejs/node_modules/layered/index.js": "exports.VALUE = 'from /opt';\n"},
                   "version": "22", "error": ("TypeError", "node boom"), "init_error": "Runtime.ImportModuleError"},
    "ruby3.3": {"files": {"app.rb": RUBY}, "handler": "app.handler", "says": "ruby says",
                "layer": {"ruby/lib/layered.rb": "module Layered\n  VALUE = 'from /opt'\nend\n"}, "version": "3.3",
                "error": ("Function<ArgumentError>", "ruby boom"), "init_error": "Init<LoadError>"},
}


@pytest.mark.parametrize("runtime", list(CASES))
def test_a_newer_runtime_runs_handlers_logs_errors_and_layers(client: Any, fns: Functions, runtime: str) -> None:
    case = CASES[runtime]
    name = "rt-" + runtime.replace(".", "-")
    layer = fns.publish_layer(f"{name}-layer", case["layer"])
    fns.create(name, case["files"], runtime=runtime, handler=case["handler"], layers=[layer], memory=512)
    first = invoke(client, name, {}, tail=True)
    assert first.status_code == 200 and "X-Amz-Function-Error" not in first.headers, first.get_data(as_text=True)
    out = first.get_json()
    assert out["version"] == case["version"] and out["count"] == 1 and out["layer"] == "from /opt", out
    assert out["fn"] == name
    if runtime.startswith("python"):
        assert out["boto3"] == "1.44.8"
    assert f"{case['says']} 1" in base64.b64decode(first.headers["X-Amz-Log-Result"]).decode()
    assert invoke(client, name, {}).get_json()["count"] == 2  # warm: the same process
    failed = invoke(client, name, {"fail": True})
    assert failed.headers["X-Amz-Function-Error"] == "Unhandled"
    error = failed.get_json()
    assert (error["errorType"], error["errorMessage"]) == case["error"], error
    # AWS's Node.js runtimes call the stack "trace", the others "stackTrace".
    assert isinstance(error.get("trace" if runtime.startswith("nodejs") else "stackTrace"), list), error
    fns.update_config(name, timeout=1)
    late = invoke(client, name, {"sleep": 3})
    assert late.headers["X-Amz-Function-Error"] == "Unhandled"
    assert "Task timed out after 1.00 seconds" in late.get_json()["errorMessage"]
    # A handler in a file that is not there: an init error in the runtime's own shape.
    fns.create(f"{name}-broken", case["files"], runtime=runtime, handler="missing.handler")
    broken = invoke(client, f"{name}-broken", {})
    assert broken.headers["X-Amz-Function-Error"] == "Unhandled"
    assert broken.get_json()["errorType"] == case["init_error"], broken.get_json()


def test_ruby_class_method_handlers_and_nodejs20_es_modules(client: Any, fns: Functions) -> None:
    fns.create("rb-class", {"app.rb": RUBY}, runtime="ruby3.3", handler="app.Shop::Orders.place")
    got = invoke(client, "rb-class", {"item": "tea"})
    assert got.get_json() == {"placed": "tea", "request": 36}, got.get_data(as_text=True)
    fns.create("rb-nomethod", {"app.rb": RUBY}, runtime="ruby3.3", handler="app.nothing")
    assert invoke(client, "rb-nomethod", {}).get_json()["errorType"] == "Init<NameError>"
    fns.create("node20-esm", {"index.mjs": NODE_ESM}, runtime="nodejs20.x", handler="index.handler")
    esm = invoke(client, "node20-esm", {"a": 1})
    assert esm.get_json() == {"esm": True, "event": {"a": 1}, "fn": "node20-esm"}, esm.get_data(as_text=True)
