"""Clicks people made, and requests machines made: link previews, crawlers and mail scanners.

A link in an SMS or email is fetched by many machines before (or instead of) a person: the
messaging app building a preview (WhatsApp, iMessage, Slack, Teams, Google Messages…), search
crawlers, and mail security gateways that open every link to check it (Microsoft Safe Links,
Mimecast, Proofpoint, Barracuda). Such a request still gets its redirect, but it is recorded as
a bot click and never counts for attribution. Each verdict says why, for the timeline.
"""

from __future__ import annotations

import re

FAST_CLICK_SECONDS = 2.0  # sooner than this after delivery, a non-browser agent is a machine

# (pattern, reason); the first that matches names the agent. iMessage's preview fetcher calls
# itself "facebookexternalhit/1.1 Facebot Twitterbot/1.0", and Telegram's "TelegramBot (like
# TwitterBot)", so they are tried before Facebook and X.
_KNOWN: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), reason)
    for pattern, reason in (
        (r"facebookexternalhit.*twitterbot", "iMessage link preview"),
        (r"facebookexternalhit|facebot|meta-external", "Facebook link preview"),
        (r"slackbot|slack-imgproxy", "Slack link preview"),
        (r"whatsapp/", "WhatsApp (or Signal) link preview"),
        (r"telegrambot", "Telegram link preview"),
        (r"twitterbot", "X (Twitter) link preview"),
        (r"discordbot", "Discord link preview"),
        (r"linkedinbot", "LinkedIn link preview"),
        (r"skypeuripreview", "Skype or Teams link preview"),
        (r"google-pagerenderer|googlemessages", "Google Messages link preview"),
        (r"applebot", "Apple's crawler"),
        (r"googlebot|adsbot-google|google-inspectiontool", "Google's crawler"),
        (r"bingbot|adidxbot|msnbot", "Bing's crawler"),
        (r"safelinks|microsoft office|ms-office|microsoft outlook", "Microsoft Office link check"),
        (r"barracuda", "Barracuda mail scanner"),
        (r"mimecast", "Mimecast mail scanner"),
        (r"proofpoint|urldefense", "Proofpoint mail scanner"),
        (
            r"^(curl|wget|python-requests|python-urllib|python/|aiohttp|httpx|go-http-client|"
            r"okhttp|java/|apache-httpclient|libwww-perl|axios|node-fetch|undici|postmanruntime)"
            r"|headlesschrome|phantomjs",
            "an HTTP library or headless browser, not a person's browser",
        ),
    )
)
_GENERIC = re.compile(r"bot\b|bot/|crawler|spider|preview|scanner|scraper", re.IGNORECASE)
# "Mozilla/5.0 (Linux; Android 10; CUBOT P40) …": a browser's first comment names the device,
# and device names may contain "bot". Bots that say "compatible;" there are still searched.
_DEVICE_COMMENT = re.compile(r"^(mozilla|opera)/[\d.]+ \((?![^)]*compatible)[^)]*\)", re.IGNORECASE)
_BROWSER = re.compile(r"^(mozilla|opera)/", re.IGNORECASE)


def bot_reason(
    user_agent: str | None, method: str = "GET", seconds_since_delivery: float | None = None
) -> str | None:
    """Why this request is a machine's, or None when it looks like a person's click."""
    if method.upper() == "HEAD":
        return "a HEAD request: link checkers ask for the headers only"
    agent = (user_agent or "").strip()
    if not agent:
        return "no user agent"
    for pattern, reason in _KNOWN:
        if pattern.search(agent):
            return reason
    generic = _GENERIC.search(_DEVICE_COMMENT.sub("", agent))
    if generic is not None:
        return f"the agent calls itself a {generic[0].strip('/').lower()}"
    if (
        seconds_since_delivery is not None
        and seconds_since_delivery < FAST_CLICK_SECONDS
        and not _BROWSER.match(agent)
    ):
        return f"a non-browser agent, {seconds_since_delivery:.1f}s after delivery"
    return None


def is_bot(
    user_agent: str | None, method: str = "GET", seconds_since_delivery: float | None = None
) -> bool:
    return bot_reason(user_agent, method, seconds_since_delivery) is not None


def agent_class(user_agent: str | None, reason: str | None) -> str:
    """A word for who asked, kept beside a click: `browser` for a person's, else the kind of
    machine (`preview`, `crawler`, `scanner`, `machine`)."""
    if reason is None:
        return "browser" if _BROWSER.match((user_agent or "").strip()) else "app"
    for word, kind in (("preview", "preview"), ("crawler", "crawler")):
        if word in reason:
            return kind
    if "scanner" in reason or "link check" in reason:
        return "scanner"
    return "machine"
