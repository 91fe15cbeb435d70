"""The shipped cluster.yaml against an emulated AWS (moto: EC2, SSM, IAM, S3, STS), up to the
point where Ray would SSH into a node: its image is the public SSM parameter, passed by Ray's
AWS node provider to ``run_instances`` unchanged, with the instance profiles that let head and
workers use the bucket; ``platform.cluster`` resolves the parameter, makes the bucket once and
runs the sweep on the head with the bucket as storage."""
import copy
import datetime
import os
from collections import defaultdict

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REGION = "us-west-2"
ACCOUNT = "123456789012"   # moto's account


@pytest.fixture
def aws(monkeypatch, tmp_path):
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": REGION, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
                       "HOME": str(tmp_path)}.items():   # Ray writes its key pair under ~/.ssh
        monkeypatch.setenv(key, value)
    from moto import mock_aws

    with mock_aws():
        yield


def shipped_config() -> dict:
    with open(os.path.join(REPO, "cluster.yaml")) as fh:
        return yaml.safe_load(fh)


def publish_image_parameter(name: str, image_id: str) -> None:
    """What AWS does for its public parameters: moto ships only some, and refuses (as AWS does)
    a put under /aws/, so the emulator's store is given the value directly."""
    from moto.ssm.models import Parameter, ssm_backends

    parameters = ssm_backends[ACCOUNT][REGION]._parameters
    defaultdict.__getitem__(parameters, name).append(Parameter(
        account_id=ACCOUNT, name=name, value=image_id, parameter_type="String", description=None,
        allowed_pattern=None, keyid=None, last_modified_date=datetime.datetime.now().timestamp(), version=1,
        data_type="aws:ec2:image"))


def test_cluster_image_is_an_ssm_parameter_and_reaches_run_instances_unchanged(aws, monkeypatch):
    import time
    import types

    import boto3
    from ray.autoscaler._private.aws import config as aws_config
    from ray.autoscaler._private.aws.config import bootstrap_aws

    # Ray waits 15 s twice for a new IAM role and profile to propagate through AWS; the emulator has them at once
    monkeypatch.setattr(aws_config, "time", types.SimpleNamespace(sleep=lambda seconds: None, time=time.time))
    from ray.autoscaler._private.aws.node_provider import AWSNodeProvider
    from ray.autoscaler._private.util import prepare_config, validate_config
    from ray.autoscaler.tags import (TAG_RAY_CLUSTER_NAME, TAG_RAY_LAUNCH_CONFIG, TAG_RAY_NODE_KIND,
                                     TAG_RAY_NODE_NAME, TAG_RAY_USER_NODE_TYPE)

    raw = shipped_config()
    config = prepare_config(copy.deepcopy(raw))
    validate_config(config)            # Ray's schema still accepts the file
    config = bootstrap_aws(config)     # what `ray up` does first: IAM, key pair, subnets, security groups
    provider = AWSNodeProvider(config["provider"], config["cluster_name"])
    launched = {}
    for node_type, kind in ((config["head_node_type"], "head"), ("worker.gpu", "worker")):
        node_config = copy.deepcopy(config["available_node_types"][node_type]["node_config"])
        if kind == "head":   # as `ray up` launches the head: its "head_node" part (the instance profile) first
            node_config = {**copy.deepcopy(config.get("head_node", {})), **node_config}
        provider.create_node(node_config, {TAG_RAY_NODE_KIND: kind, TAG_RAY_USER_NODE_TYPE: node_type,
                                           TAG_RAY_NODE_NAME: f"ray-distillery-{kind}",
                                           TAG_RAY_CLUSTER_NAME: config["cluster_name"],
                                           TAG_RAY_LAUNCH_CONFIG: "launch-hash"}, 1)
    ec2 = boto3.client("ec2", region_name=REGION)
    reservations = ec2.describe_instances()["Reservations"]
    profiles = {a["InstanceId"]: a["IamInstanceProfile"]["Arn"]
                for a in ec2.describe_iam_instance_profile_associations()["IamInstanceProfileAssociations"]}
    for instance in (i for r in reservations for i in r["Instances"]):
        tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
        launched[tags[TAG_RAY_USER_NODE_TYPE]] = instance
    shipped_image = raw["available_node_types"]["head.cpu"]["node_config"]["ImageId"]
    assert shipped_image.startswith("resolve:ssm:/aws/service/deeplearning/ami/")
    assert set(launched) == {"head.cpu", "worker.gpu"}
    for instance in launched.values():
        assert instance["ImageId"] == shipped_image            # EC2 resolves it, Ray passes it through
        assert profiles.get(instance["InstanceId"], "").endswith("/ray-autoscaler-v1"), (launched, profiles)
    policies = boto3.client("iam").list_attached_role_policies(RoleName="ray-autoscaler-v1")["AttachedPolicies"]
    assert "AmazonS3FullAccess" in {p["PolicyName"] for p in policies}


def test_cluster_up_resolves_the_image_the_region_publishes(aws):
    import boto3
    from platform.cluster import image_parameters, resolve_images

    config = shipped_config()
    [name] = image_parameters(config)
    publish_image_parameter(name, "ami-0123456789abcdef0")
    assert resolve_images(boto3.session.Session(), config) == {name: "ami-0123456789abcdef0"}


def test_cluster_up_in_a_region_without_the_image_is_one_line_exit_2(aws, capsys):
    from platform.cluster import main

    with pytest.raises(SystemExit) as done:
        main(["up"])
    err = capsys.readouterr().err.strip().splitlines()
    assert done.value.code == 2 and len(err) == 1 and "ImageId" in err[0] and REGION in err[0]


def test_cluster_bucket_is_named_from_account_and_region_and_created_once(aws):
    import boto3
    from platform.cluster import ensure_bucket

    session = boto3.session.Session()
    assert ensure_bucket(session, REGION) == (f"distillery-{ACCOUNT}-{REGION}", True)
    assert ensure_bucket(session, REGION) == (f"distillery-{ACCOUNT}-{REGION}", False)
    s3 = boto3.client("s3", region_name=REGION)
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [f"distillery-{ACCOUNT}-{REGION}"]
    assert s3.get_public_access_block(Bucket=f"distillery-{ACCOUNT}-{REGION}")[
        "PublicAccessBlockConfiguration"]["BlockPublicAcls"] is True


def test_cluster_bucket_command_prints_the_storage_the_head_exports(aws, capsys):
    from platform.cluster import main

    main(["bucket"])
    assert capsys.readouterr().out.strip() == f"s3://distillery-{ACCOUNT}-{REGION}/experiments"


def test_cluster_sweep_runs_on_the_head_against_the_bucket():
    from platform.cluster import storage_uri, sweep_command

    command = sweep_command(storage_uri(ACCOUNT, REGION), ["tadml_disc", "--set", "train.epochs=3"])
    assert command == ("cd ~/distillery && python -m platform.sweep tadml_disc --set train.epochs=3 --address auto "
                       f"--storage s3://distillery-{ACCOUNT}-{REGION}/experiments")


def test_cluster_head_exports_the_bucket_as_default_storage():
    config = shipped_config()
    setup = " ".join(config["head_setup_commands"])
    assert "python -m platform.cluster bucket" in setup and "DISTILLERY_STORAGE" in setup
    text = open(os.path.join(REPO, "cluster.yaml")).read()
    assert "REPLACE_ME" not in text and "fs-" not in text
