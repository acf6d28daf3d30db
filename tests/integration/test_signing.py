"""Unsubscribe links and callback keys survive key rotation (issue 14.4), on both databases.

They are signed with the signing secret, not the API token: rotating the token breaks nothing
already sent, and a rotated signing secret kept in `previous_signing_secrets` still verifies.
"""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from cartback.api.app import create_app
from cartback.channels.unsubscribe import key_from, make_token
from cartback.reload import reload
from cartback.runtime import Runtime
from tests.integration.conftest import CONFIG, TOKEN, make_runtime

EMAIL = "astrid@example.com"
OLD = "the-first-signing-secret-0001"
NEW = "the-second-signing-secret-0002"


def _runtime(db_url: str, tmp_path: Path, *, token: str = TOKEN, signing: str = "") -> Runtime:
    config = CONFIG.replace("api_token: {token}", f"api_token: {token}\n{signing}")
    runtime, _clock, _sms = make_runtime(db_url, tmp_path, config)
    return runtime


def _link(runtime: Runtime) -> str:
    return make_token(key_from(runtime.signing.secret), "acme", EMAIL)


def _status(runtime: Runtime, token: str) -> int:
    try:
        with TestClient(create_app(runtime)) as client:
            status: int = client.get(f"/u/{token}").status_code
            return status
    finally:
        runtime.store.close()


def test_rotating_the_api_token_keeps_unsubscribe_links_working(
    db_url: str, tmp_path: Path
) -> None:
    first = _runtime(db_url, tmp_path)
    link = _link(first)
    first.store.close()

    rotated = _runtime(db_url, tmp_path, token="a-rotated-api-token")
    assert rotated.signing.secret == first.signing.secret  # made once, kept in the database
    assert _status(rotated, link) == 200


def test_a_rotated_signing_secret_verifies_while_it_is_listed_as_previous(
    db_url: str, tmp_path: Path
) -> None:
    configured = _runtime(db_url, tmp_path, signing=f"signing_secret: {OLD}")
    assert configured.signing.secret == OLD
    link = _link(configured)
    configured.store.close()

    listed = f"signing_secret: {NEW}\nprevious_signing_secrets: [{OLD}]"
    assert _status(_runtime(db_url, tmp_path, signing=listed), link) == 200
    assert _status(_runtime(db_url, tmp_path, signing=f"signing_secret: {NEW}"), link) == 404


def test_a_link_signed_with_the_api_token_still_works_until_the_token_is_rotated(
    db_url: str, tmp_path: Path
) -> None:
    """Links sent before there was a signing secret were signed with the API token."""
    legacy = make_token(key_from(TOKEN), "acme", EMAIL)
    assert _status(_runtime(db_url, tmp_path), legacy) == 200
    assert _status(_runtime(db_url, tmp_path, token="a-rotated-api-token"), legacy) == 404


def test_callback_keys_of_earlier_secrets_still_verify(db_url: str, tmp_path: Path) -> None:
    listed = f"signing_secret: {NEW}\nprevious_signing_secrets: [{OLD}]"
    runtime = _runtime(db_url, tmp_path, signing=listed)
    runtime.store.close()
    old_key = _runtime(db_url, tmp_path, signing=f"signing_secret: {OLD}")
    old_key.store.close()
    assert runtime.signing.is_callback_key(old_key.signing.callback_key())
    assert runtime.signing.is_callback_key(runtime.signing.callback_key())
    assert not runtime.signing.is_callback_key("0" * 32)
    assert NEW not in repr(runtime.signing)


def test_a_reload_that_rotates_the_secret_verifies_the_new_links_and_the_old(
    db_url: str, tmp_path: Path
) -> None:
    """SIGHUP with a new signing secret: the API verifies the links the new config signs at
    once, and those of the secret it replaced while it is listed as previous."""
    runtime = _runtime(db_url, tmp_path, signing=f"signing_secret: {OLD}")
    old_link = _link(runtime)
    path = tmp_path / "cartback.yaml"
    listed = f"signing_secret: {NEW}\nprevious_signing_secrets: [{OLD}]"
    path.write_text(path.read_text().replace(f"signing_secret: {OLD}", listed, 1))
    assert reload(runtime, path)
    assert runtime.signing.secret == NEW
    new_link = make_token(key_from(NEW), "acme", EMAIL)
    try:
        with TestClient(create_app(runtime)) as client:
            assert client.get(f"/u/{new_link}").status_code == 200
            assert client.get(f"/u/{old_link}").status_code == 200
    finally:
        runtime.store.close()
    assert runtime.signing.is_callback_key(runtime.scheduler.sender.composer.signing.callback_key())
