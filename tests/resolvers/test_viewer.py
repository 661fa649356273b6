"""Who and where a request comes from."""

import pytest

from resolvers.viewer import bearer_token, client_address


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc123", "abc123"),
        ("bearer abc123", "abc123"),
        ("Bearer ", None),
        ("Basic abc", None),
        (None, None),
        ("Bearer " + "x" * 257, None),
    ],
)
def test_only_a_bearer_token_of_sane_length_is_taken(header, token):
    assert bearer_token(header) == token


def test_x_forwarded_for_is_believed_only_from_our_own_proxies():
    assert client_address("203.0.113.9", "10.0.0.1", ["10.0.0.2"]) == "203.0.113.9"  # not our proxy: ignored
    assert client_address("10.0.0.2", "198.51.100.7", ["10.0.0.2"]) == "198.51.100.7"
    # a client cannot pass itself off as another by sending its own header through our proxies
    assert client_address("10.0.0.2", "1.2.3.4, 198.51.100.7, 10.0.0.3", ["10.0.0.2", "10.0.0.3"]) == "198.51.100.7"
    assert client_address(None, None, []) is None
