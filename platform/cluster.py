"""The AWS cluster from a laptop, with nothing but AWS credentials where boto3 looks for them
(environment, ``~/.aws``, SSO):

    python -m platform.cluster up                    # ray up cluster.yaml (its image, bucket and data dirs need no edits)
    python -m platform.cluster sweep tadml_disc [ARGS...]   # the sweep on the cluster, stored in the cluster's bucket
    python -m platform.cluster down                  # ray down cluster.yaml
    python -m platform.cluster bucket [--region R]   # the bucket's URI, created if missing (the head runs this)

The image: ``cluster.yaml`` names it as ``resolve:ssm:`` and a public SSM parameter that AWS
keeps pointing at the current Deep Learning Base image; EC2 resolves it when it launches a
node (Ray passes ``ImageId`` to ``run_instances`` unchanged). ``up`` resolves it first, only to
say which image that will be and to fail early where the region does not publish it.

The storage: one bucket per account and region, ``distillery-<account>-<region>``, created
by the head on its first start (its instance role has S3 access: Ray gives the head
``AmazonS3FullAccess`` and ``AmazonEC2FullAccess``; workers get the same instance profile in
``cluster.yaml``). Experiments go under ``s3://distillery-<account>-<region>/experiments``,
which the head exports as ``DISTILLERY_STORAGE`` (the default of ``--storage``); data sets
may be put under ``.../datasets/`` and named as ``data.root``."""
import argparse
import os
import shlex
import subprocess
import sys
from typing import List, Optional

import yaml

PROG = "python -m platform.cluster"
CLUSTER_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cluster.yaml")
SSM_PREFIX = "resolve:ssm:"
STORAGE_ENV = "DISTILLERY_STORAGE"


def bucket_name(account: str, region: str) -> str:
    return f"distillery-{account}-{region}"


def storage_uri(account: str, region: str) -> str:
    return f"s3://{bucket_name(account, region)}/experiments"


def account_id(session) -> str:
    return session.client("sts").get_caller_identity()["Account"]


def ensure_bucket(session, region: str) -> tuple:
    """The cluster's bucket, created if it does not exist: (name, whether this call created it)."""
    from botocore.exceptions import ClientError

    name = bucket_name(account_id(session), region)
    s3 = session.client("s3", region_name=region)
    try:
        s3.head_bucket(Bucket=name)
        return name, False
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
    options = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    try:
        s3.create_bucket(Bucket=name, **options)
    except ClientError as err:   # another head made it between the check and now
        if err.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
            raise
        return name, False
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    return name, True


def cluster_config(path: str = CLUSTER_FILE) -> dict:
    with open(path) as fh:
        return yaml.safe_load(fh)


def image_parameters(config: dict) -> List[str]:
    """The SSM parameters the node types' ``ImageId`` resolve from (none for pinned AMI ids)."""
    names = []
    for node_type in config.get("available_node_types", {}).values():
        image = str(node_type.get("node_config", {}).get("ImageId", ""))
        if image.startswith(SSM_PREFIX) and image[len(SSM_PREFIX):] not in names:
            names.append(image[len(SSM_PREFIX):])
    return names


def resolve_images(session, config: dict) -> dict:
    """parameter -> AMI id, as EC2 will resolve it in the cluster's region."""
    region = config["provider"]["region"]
    ssm = session.client("ssm", region_name=region)
    return {name: ssm.get_parameter(Name=name)["Parameter"]["Value"] for name in image_parameters(config)}


def sweep_command(storage: str, sweep_args: List[str]) -> str:
    """What ``ray exec`` runs on the head."""
    args = " ".join(shlex.quote(a) for a in sweep_args)
    return f"cd ~/distillery && python -m platform.sweep {args} --address auto --storage {shlex.quote(storage)}"


def _session():
    try:
        import boto3
    except ImportError:
        sys.exit(f"{PROG}: needs boto3 on this machine (pip install -e '.[cluster]')")
    return boto3.session.Session()


def _ray(*args: str) -> int:
    print("$ ray " + " ".join(shlex.quote(a) for a in args), flush=True)
    return subprocess.call(["ray", *args])


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("up", "sweep", "down", "bucket"))
    parser.add_argument("sweep_args", nargs=argparse.REMAINDER, help="with sweep: NAME and platform.sweep's options")
    parser.add_argument("--cluster", default=CLUSTER_FILE, help="cluster file (default: cluster.yaml)")
    parser.add_argument("--region", help="with bucket: the region (default: the cluster file's)")
    args = parser.parse_args(argv)
    config = cluster_config(args.cluster)
    region = args.region or config["provider"]["region"]
    session = _session()
    from botocore.exceptions import ClientError
    if args.command == "bucket":
        name, created = ensure_bucket(session, region)
        print(f"s3://{name}/experiments")
        print(f"{'created' if created else 'found'} bucket {name}", file=sys.stderr)
        return
    storage = storage_uri(account_id(session), region)
    if args.command == "up":
        try:
            images = resolve_images(session, config)
        except ClientError as err:   # ParameterNotFound: the region does not publish that image
            sys.stderr.write(f"{PROG}: ImageId: {err.response['Error'].get('Message', err)} in {region}; pin an ami-... "
                             f"id in {os.path.basename(args.cluster)} or pick a region that publishes it\n")
            sys.exit(2)
        for name, image in images.items():
            print(f"image: {image} (SSM parameter {name}, {region})")
        code = _ray("up", "-y", args.cluster)
    elif args.command == "sweep":
        if not args.sweep_args:
            parser.error("sweep needs a sweep NAME (see python -m platform.sweep --list)")
        print(f"experiments: {storage}/ (python -m platform.report {storage}/<experiment>)")
        print(f"dashboard: ray dashboard {args.cluster}")
        code = _ray("exec", args.cluster, sweep_command(storage, args.sweep_args))
    else:
        code = _ray("down", "-y", args.cluster)
    print(f"experiments: {storage}/")
    sys.exit(code)


if __name__ == "__main__":
    main()
