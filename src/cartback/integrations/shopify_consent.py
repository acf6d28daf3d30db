"""Shopify's marketing consent: the buyer's answers on a checkout, and the consent topics' state.

Since API version 2025-01 the answers are on the checkout itself (`buyer_accepts_marketing`,
`buyer_accepts_sms_marketing`); older versions only have them on the nested customer.
"""

from __future__ import annotations

from cartback.domain.events import Consent
from cartback.integrations._json import JsonObject

SUBSCRIBED = "subscribed"


def checkout_consent(doc: JsonObject) -> Consent:
    """Checkout-level answers win; older versions only have them on the nested customer."""
    nested = doc.child("customer")
    return Consent(sms=_sms_consent_of(doc, nested), email=_email_consent_of(doc, nested))


def _sms_consent_of(doc: JsonObject, nested: JsonObject | None) -> bool | None:
    answer = doc.flag("buyer_accepts_sms_marketing")
    if answer is not None or nested is None:
        return answer
    return _state_of(nested, "sms_marketing_consent")


def _email_consent_of(doc: JsonObject, nested: JsonObject | None) -> bool | None:
    answer = doc.flag("buyer_accepts_marketing")
    if answer is not None or nested is None:
        return answer
    state = _state_of(nested, "email_marketing_consent")
    return state if state is not None else nested.flag("accepts_marketing")


def _state_of(nested: JsonObject, key: str) -> bool | None:
    consent = nested.child(key)
    state = consent.text("state") if consent is not None else None
    return state.lower() == SUBSCRIBED if state is not None else None


def granted(consent: JsonObject) -> bool:
    return consent.require_text("state").lower() == SUBSCRIBED


def consent_detail(consent: JsonObject, extras: tuple[str, ...]) -> str:
    state = consent.require_text("state")
    name = consent.path.rsplit(".", 1)[-1]
    known = [f"{key}={consent.text(key)}" for key in extras if consent.text(key) is not None]
    suffix = f" ({', '.join(known)})" if known else ""
    return f"{name}.state={state}{suffix}"
