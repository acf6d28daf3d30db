"""Fake gateways that answer in the vendors' documented shapes, for `httpx.MockTransport`.

    fake = FakeInMobile(api_key="key")
    gateway = InMobileGateway("key", ..., transport=httpx.MockTransport(fake.handle))

Each fake records the requests it saw, checks credentials, deduplicates by our message id the way
the real gateway does, and can be told to fail the next calls (5xx, timeout, a 4xx with the
vendor's error body) or to treat some numbers as opted out / blacklisted.
"""

from tests.fakes.inmobile import FakeInMobile
from tests.fakes.twilio import FakeTwilio

__all__ = ["FakeInMobile", "FakeTwilio"]
