"""Nothing half-written: blobs exist exactly while some row references them."""

from __future__ import annotations

import hashlib

import pytest
from lamina.errors import CodeStorageExceededException
from lamina.services.functions import functions, layers, versions
from lamina.services.records import CodeInput, ConfigInput, CreateFunctionInput, LayerVersionInput
from lamina.store import queries
from support.lambda_api import ROLE, make_zip

ACCOUNT = "000000000000"


def _input(name: str, data: bytes, publish: bool = False) -> CreateFunctionInput:
    return CreateFunctionInput(
        name=name, code=CodeInput(zip_file=data), publish=publish,
        config=ConfigInput(role=ROLE, runtime="python3.11", handler="app.handler"),
    )


def test_a_failure_after_the_blob_was_written_removes_it(components, monkeypatch):
    data = make_zip({"app.py": "# fails late\n"})
    key = hashlib.sha256(data).hexdigest()

    def boom(*_args, **_kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(versions, "publish_in", boom)
    with pytest.raises(RuntimeError):
        functions.create_function(components, ACCOUNT, _input("late", data, publish=True))
    assert not components.code_store.exists(key)
    with components.sessions() as session:
        assert queries.get_function(session, ACCOUNT, "late") is None


def test_a_failed_update_keeps_a_blob_someone_else_uses(components, monkeypatch):
    data = make_zip({"app.py": "# shared\n"})
    key = hashlib.sha256(data).hexdigest()
    functions.create_function(components, ACCOUNT, _input("owner", data))
    functions.create_function(components, ACCOUNT, _input("other", make_zip({"app.py": "# other\n"})))
    monkeypatch.setattr(versions, "publish_in", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("late")))
    with pytest.raises(RuntimeError):
        functions.update_code(components, ACCOUNT, "other", CodeInput(zip_file=data), publish=True)
    assert components.code_store.exists(key)
    assert functions.get_configuration(components, ACCOUNT, "other").code_key != key


def test_shared_blobs_live_until_the_last_user_goes(components):
    data = make_zip({"app.py": "# twice\n"})
    key = hashlib.sha256(data).hexdigest()
    functions.create_function(components, ACCOUNT, _input("one", data))
    functions.create_function(components, ACCOUNT, _input("two", data))
    functions.delete_function(components, ACCOUNT, "one")
    assert components.code_store.exists(key)
    functions.delete_function(components, ACCOUNT, "two")
    assert not components.code_store.exists(key)


def test_deleting_a_version_frees_only_its_own_blob(components):
    v1 = make_zip({"app.py": "# v1\n"})
    functions.create_function(components, ACCOUNT, _input("vers", v1, publish=True))
    functions.update_code(components, ACCOUNT, "vers", CodeInput(zip_file=make_zip({"app.py": "# v2\n"})))
    assert components.code_store.exists(hashlib.sha256(v1).hexdigest())
    functions.delete_function(components, ACCOUNT, "vers", "1")
    assert not components.code_store.exists(hashlib.sha256(v1).hexdigest())


def test_layer_blob_outlives_its_deleted_version_while_used(components):
    data = make_zip({"python/l.py": "L = 1\n"})
    key = hashlib.sha256(data).hexdigest()
    lv = layers.publish_layer_version(components, ACCOUNT, "lay", LayerVersionInput(zip_file=data))
    inp = CreateFunctionInput(
        name="uses", code=CodeInput(zip_file=make_zip()), publish=True,
        config=ConfigInput(role=ROLE, runtime="python3.11", handler="app.handler", layers=[lv.layer_version_arn]),
    )
    functions.create_function(components, ACCOUNT, inp)
    layers.delete_layer_version(components, ACCOUNT, "lay", 1)
    functions.update_configuration(components, ACCOUNT, "uses", ConfigInput(layers=[]))
    assert components.code_store.exists(key), "version 1 of the function still has the layer"
    functions.delete_function(components, ACCOUNT, "uses")
    assert not components.code_store.exists(key)


def test_code_storage_quota(components, monkeypatch):
    monkeypatch.setattr(components, "settings", components.settings.with_(total_code_bytes=200))
    functions.create_function(components, ACCOUNT, _input("fits", make_zip()))
    with pytest.raises(CodeStorageExceededException) as err:
        functions.create_function(components, ACCOUNT, _input("over", make_zip({"b.py": "# b\n"})))
    assert err.value.status == 400
