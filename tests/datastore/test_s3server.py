"""The S3 server the tests start: bound to loopback, signed requests only, data kept."""

from __future__ import annotations

from s3server import S3Server, signed_request


def test_server_answers_signed_requests_on_loopback(s3_server: S3Server, s3_bucket: str) -> None:
    assert s3_server.endpoint.startswith("http://127.0.0.1:")
    status, body = signed_request(s3_server, "GET", "/")
    assert status == 200
    assert s3_bucket.encode() in body
