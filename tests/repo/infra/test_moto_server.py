"""moto_server.py's fix for moto's shared operation-model cache: whatever
botocore cached first, moto's router gets moto's model (with `http_trait`)."""

from __future__ import annotations

from botocore.loaders import Loader
from botocore.model import ServiceModel as BotocoreServiceModel
from moto.core.model import OperationModel, ServiceModel

from tests.repo.infra import moto_server  # noqa: F401  (applies the fix)


def s3_model() -> ServiceModel:
    return ServiceModel(Loader().load_service_model("s3", "service-2"), "s3")


def test_a_model_botocore_cached_first_is_not_what_moto_gets() -> None:
    model = s3_model()
    # What the other thread's call leaves in the shared cache mid-way.
    BotocoreServiceModel.operation_model(model, "CreateBucket")
    found = model.operation_model("CreateBucket")
    assert isinstance(found, OperationModel)
    assert found.http_trait.method == "PUT"
    assert model.operation_model("CreateBucket") is found
