"""An S3 endpoint for the tests: moto's server in a thread of the test process, on a free
loopback port. ``AWS_ENDPOINT_URL`` points boto3, pyarrow's S3 file system (and so Tune's
storage) and every subprocess and Ray worker started from the test at it; the credentials
are dummies that only the emulator sees."""
import contextlib
import os
import urllib.request

REGION = "us-west-2"


@contextlib.contextmanager
def s3_endpoint(monkeypatch, buckets=("distillery-test",)):
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    # moto keeps its state per Python process: every test starts from empty accounts
    urllib.request.urlopen(urllib.request.Request(f"http://{host}:{port}/moto-api/reset", method="POST")).read()
    env = {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
           "AWS_EC2_METADATA_DISABLED": "true"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    try:
        import boto3

        client = boto3.client("s3", region_name=REGION)
        for bucket in buckets:
            client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield client
    finally:
        server.stop()


def keys(client, bucket: str, prefix: str = ""):
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))


def environment_for(path: str) -> dict:
    return dict(os.environ, DISTILL_CACHE=path)
