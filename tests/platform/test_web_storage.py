"""The web app with a bucket of the org's own (SeaweedFS on loopback, whose buckets allow no
browser origin until they say so, as on AWS): add a creds key, connect a dataset, the viewer's
CORS message and rule, the grid once the rule is in, and the default storage a dataset
created from Python then lands in. No secret is ever shown back."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

import shoal
from tests.servers.platform_fixtures import Running
from tests.servers.seaweedfs import SeaweedFS, wait_writable

from .org_store import ADMIN, ORG, ORG2, ORG_BUCKET, ORG_ROLE, PLATFORM, OrgStore, _iam
from .test_web_viewer import N, fill, nonblank_fraction
from .web_fixtures import browser, context, off_loop, page, register, shot, web_platform

__all__ = ["browser", "context", "page", "web_platform"]


@pytest.fixture(scope="module")
def own_bucket(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrgStore]:
    weed = SeaweedFS(
        Path(tmp_path_factory.mktemp("web-store")),
        identities=[ADMIN, PLATFORM, ORG, ORG2],
        iam=_iam(),
        autocreate_buckets=False,
        # like AWS: a bucket without CORS rules of its own lets no web page read it
        extra_args=["-s3.allowedOrigins=http://no-such-page.invalid"],
    )
    weed.start()
    try:
        store = OrgStore(weed, weed.endpoint)
        wait_writable(store.client(store.keys(ADMIN)), ORG_BUCKET)
        yield store
    finally:
        weed.stop()


@pytest.fixture
def base(
    web_platform: Running, client_env: object, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    monkeypatch.setenv("SHOAL_PLATFORM_URL", web_platform.url)
    yield web_platform.url


def add_key(
    page: Page, base: str, org: str, store: OrgStore, name: str = "orgkeys", first: bool = True
) -> None:
    page.goto(base + f"/o/{org}/creds")
    if first:
        assert page.locator(".empty").inner_text() == f"{org} has no creds keys yet."
    page.click("#kind-aws-keys summary")
    page.fill("#add-aws-keys-name", name)
    page.fill("#add-aws-keys-aws_access_key_id", ORG.access_key)
    page.fill("#add-aws-keys-aws_secret_access_key", ORG.secret_key)
    page.fill("#add-aws-keys-endpoint_url", store.endpoint)
    page.fill("#add-aws-keys-aws_region", "us-east-1")
    page.fill("#add-aws-keys-role_arn", ORG_ROLE)
    page.click("text=Add aws-keys key")
    page.wait_for_url(base + f"/o/{org}/creds")
    cells = page.locator(f"tr[data-key={name}] td").all_inner_texts()
    assert cells[:2] == [name, "aws-keys"] and "role_arn=" in cells[3]
    assert ORG.secret_key not in page.content()


def test_connect_view_cors(
    page: Page, base: str, own_bucket: OrgStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="shoal.platform")
    org = register(page, base)
    src = f"s3://{ORG_BUCKET}/{org}/pics"
    off_loop(lambda: fill(shoal.empty(src, creds=own_bucket.keys(ORG))))

    # a failed form keeps what was typed, except the secret
    page.goto(base + f"/o/{org}/creds")
    page.click("#kind-aws-keys summary")
    page.fill("#add-aws-keys-name", "bad key!")
    page.fill("#add-aws-keys-aws_access_key_id", ORG.access_key)
    page.fill("#add-aws-keys-aws_secret_access_key", ORG.secret_key)
    page.click("text=Add aws-keys key")
    assert "invalid creds key name" in page.locator("#error").inner_text()
    assert page.input_value("#add-aws-keys-aws_access_key_id") == ORG.access_key
    assert page.input_value("#add-aws-keys-aws_secret_access_key") == ""
    assert ORG.secret_key not in page.content()

    add_key(page, base, org, own_bucket)
    shot(page, "creds")
    page.click("nav.tabs >> text=Connect a dataset")
    page.fill("#src", src)
    page.select_option("#key", "orgkeys")
    page.click("button:has-text('Connect')")
    page.wait_for_url(base + f"/o/{org}/d/pics")

    # the bucket allows no page yet: the viewer says so and shows the rule to add
    page.wait_for_selector("#viewer[data-state=cors]")
    assert page.is_visible("#cors-help") and page.locator("#grid .tile").count() == 0
    rule = json.loads(page.inner_text("#cors-rule"))
    assert rule["CORSRules"][0]["AllowedOrigins"] == [base]
    assert "GET" in rule["CORSRules"][0]["AllowedMethods"]
    assert f"--bucket {ORG_BUCKET}" in page.inner_text("#cors-help")
    shot(page, "viewer-cors")

    admin = own_bucket.client(own_bucket.keys(ADMIN))
    admin.put_bucket_cors(Bucket=ORG_BUCKET, CORSConfiguration=rule)
    page.reload()
    page.wait_for_selector("#viewer[data-state=ready]")
    assert page.is_hidden("#cors-help")
    tiles = page.locator("#grid .tile")
    assert tiles.count() == 48
    for k in (0, 47):
        assert nonblank_fraction(tiles.nth(k).locator(".pic > *").screenshot()) > 0.9
    assert "labels: dog" in tiles.nth(1).inner_text()
    assert page.js_errors == []  # type: ignore[attr-defined]
    content = page.content()
    assert ORG.secret_key not in content and ORG.access_key not in content

    page.goto(base + f"/o/{org}")
    cells = page.locator("tr[data-dataset=pics] td").all_inner_texts()
    assert cells[1] == src and cells[2] == "connected (creds key orgkeys)"
    assert cells[4] == str(N) and cells[5].endswith("KiB")
    # nothing the browser sent or the platform vended reached the log
    assert caplog.records and ORG.secret_key not in caplog.text
    assert "X-Amz-Signature" not in caplog.text and "Security-Token" not in caplog.text


def test_default_storage_then_python(
    page: Page, base: str, own_bucket: OrgStore, web_platform: Running
) -> None:
    org = register(page, base)
    add_key(page, base, org, own_bucket, "store")
    page.goto(base + f"/o/{org}/storage")
    assert "platform's own storage" in page.inner_text("#current")
    page.fill("#url", f"s3://{ORG_BUCKET}/{org}/default")
    page.select_option("#key", "store")
    page.click("text=Use as default storage")
    page.wait_for_url(base + f"/o/{org}/storage")
    assert f"s3://{ORG_BUCKET}/{org}/default/NAME" in page.inner_text("#current")
    shot(page, "storage")

    # the key is in use: removing it is refused, with the reason
    page.goto(base + f"/o/{org}/creds")
    page.click("button[aria-label='Remove store']")
    assert "in use" in page.locator("#error").inner_text()
    # rotating it to other keys of the org; the new secret is not shown either
    token = web_platform.call(
        "POST", "/api/user/token", {"username": org, "password": "correct horse"}
    )[1]["token"]
    before = web_platform.call("GET", f"/api/org/{org}/creds/store", token=token)[1]
    time.sleep(1.1)  # the times have a resolution of seconds
    page.goto(base + f"/o/{org}/creds")
    page.click("tr[data-key=store] summary")
    row = page.locator("tr[data-key=store]")
    row.locator("input[name='aws-keys.aws_access_key_id']").fill(ORG2.access_key)
    row.locator("input[name='aws-keys.aws_secret_access_key']").fill(ORG2.secret_key)
    row.locator("input[name='aws-keys.endpoint_url']").fill(own_bucket.endpoint)
    row.locator("input[name='aws-keys.role_arn']").fill(ORG_ROLE)
    row.locator("button:has-text('Save new secret')").click()
    page.wait_for_url(base + f"/o/{org}/creds")
    assert ORG2.secret_key not in page.content() and ORG.secret_key not in page.content()
    after = web_platform.call("GET", f"/api/org/{org}/creds/store", token=token)[1]
    assert after["updated_at"] > before["updated_at"]
    # an unused key goes
    add_key(page, base, org, own_bucket, "spare", first=False)
    page.click("button[aria-label='Remove spare']")
    page.wait_for_url(base + f"/o/{org}/creds")
    assert page.locator("tr[data-key=spare]").count() == 0

    def create() -> None:
        ds = shoal.empty(f"hub://{org}/made", token=token)
        ds.create_tensor("x", htype="generic", dtype="int32")
        ds.x.extend([[1, 2, 3]])

    off_loop(create)
    listed = own_bucket.client(own_bucket.keys(ADMIN)).list_objects_v2(
        Bucket=ORG_BUCKET, Prefix=f"{org}/default/made/"
    )
    assert any(o["Key"].endswith("dataset_meta.json") for o in listed.get("Contents", []))
    page.goto(base + f"/o/{org}")
    cells = page.locator("tr[data-dataset=made] td").all_inner_texts()
    assert cells[1] == f"s3://{ORG_BUCKET}/{org}/default/made"
    assert cells[2] == "org default storage (creds key store)" and cells[4] == "1"
