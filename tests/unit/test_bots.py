"""Bot clicks: real user agents of link previews, crawlers and scanners, and of real people.

The agents are as the services send them (from server logs and vendor documentation: Braze's
and Bloomreach's SMS bot-click notes, the crawler-user-agents list, Slack's robots page).
"""

from __future__ import annotations

import pytest

from cartback.domain.bots import agent_class, bot_reason, is_bot

BOTS = [
    (
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Facebook link preview",
    ),
    ("Facebot", "Facebook link preview"),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like Gecko) "
        "Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0",
        "iMessage link preview",
    ),
    ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "Slack link preview"),
    ("Slack-ImgProxy (+https://api.slack.com/robots)", "Slack link preview"),
    ("WhatsApp/2.23.20.0 A", "WhatsApp (or Signal) link preview"),
    ("WhatsApp/2", "WhatsApp (or Signal) link preview"),  # Signal's preview fetcher
    ("Twitterbot/1.0", "X (Twitter) link preview"),
    ("TelegramBot (like TwitterBot)", "Telegram link preview"),
    ("Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", "Discord link preview"),
    (
        "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
        "LinkedIn link preview",
    ),
    (
        "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5 "
        "skype-url-preview@microsoft.com",
        "Skype or Teams link preview",
    ),
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/56.0.2924.87 Safari/537.36 Google-PageRenderer Google "
        "(+https://developers.google.com/+/web/snippet/)",
        "Google Messages link preview",
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
        "Apple's crawler",
    ),
    (
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Google's crawler",
    ),
    (
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, "
        "like Gecko) Chrome/41.0.2272.96 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
        "+http://www.google.com/bot.html)",
        "Google's crawler",
    ),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "Bing's crawler"),
    (
        "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.12026; Pro)",
        "Microsoft Office link check",
    ),
    ("Barracuda Sentinel (EE)", "Barracuda mail scanner"),
    ("python-requests/2.32.3", "an HTTP library or headless browser, not a person's browser"),
    ("curl/8.4.0", "an HTTP library or headless browser, not a person's browser"),
    ("Go-http-client/1.1", "an HTTP library or headless browser, not a person's browser"),
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/120.0.0.0 Safari/537.36",
        "an HTTP library or headless browser, not a person's browser",
    ),
    ("Mozilla/5.0 (compatible; SomeNewBot/1.0)", "the agent calls itself a bot"),
    ("Mozilla/5.0 (compatible; ExampleCrawler/2.0)", "the agent calls itself a crawler"),
    ("", "no user agent"),
    (None, "no user agent"),
]

PEOPLE = [
    # iPhone Safari
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    # Android Chrome
    "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/113.0.0.0 Mobile Safari/537.36",
    # a real phone whose model name ends in "bot"
    "Mozilla/5.0 (Linux; Android 10; CUBOT P40) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36",
    # Facebook's and Instagram's in-app browsers: people who tapped the link
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/482.0.0.38.109;FBBV/650005678;FBDV/iPhone15,2;"
    "FBMD/iPhone;FBSN/iOS;FBSV/17.6;FBSS/3;FBID/phone;FBLC/it_IT;FBOP/5]",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 16_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148 Instagram 280.0.0.13.116 (iPhone14,3; iOS 16_4_1; nl_NL; nl-NL; "
    "scale=3.00; 1284x2778; 467822527) NW/3",
    # desktop Edge
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
]


@pytest.mark.parametrize(("agent", "reason"), BOTS)
def test_previews_crawlers_and_scanners_are_bots_with_a_reason(
    agent: str | None, reason: str
) -> None:
    assert bot_reason(agent) == reason
    assert is_bot(agent, "GET", 3600.0)


@pytest.mark.parametrize("agent", PEOPLE)
def test_browsers_and_in_app_browsers_are_people(agent: str) -> None:
    assert bot_reason(agent) is None
    assert not is_bot(agent, "GET", 0.5)  # a browser, however fast


@pytest.mark.parametrize("agent", [PEOPLE[0], "WhatsApp/2.23.20.0 A"])
def test_a_head_request_is_a_link_check(agent: str) -> None:
    assert bot_reason(agent, "HEAD") == "a HEAD request: link checkers ask for the headers only"


def test_a_non_browser_agent_within_two_seconds_of_delivery_is_a_scanner() -> None:
    agent = "Dalvik/2.1.0 (Linux; U; Android 11; SM-G991B Build/RP1A.200720.012)"
    assert bot_reason(agent, "GET", 1.2) == "a non-browser agent, 1.2s after delivery"
    assert bot_reason(agent, "GET", 30.0) is None
    assert bot_reason(agent, "GET", None) is None  # delivery time unknown


@pytest.mark.parametrize(
    ("agent", "kind"),
    [
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)", "browser"),
        ("MyShopApp/3.1 CFNetwork", "app"),
        ("WhatsApp/2.23.20.0 A", "preview"),
        ("Googlebot/2.1 (+http://www.google.com/bot.html)", "crawler"),
        ("Mimecast URL scanner", "scanner"),
        ("curl/8.4.0", "machine"),
    ],
)
def test_each_click_gets_a_word_for_who_made_it(agent: str, kind: str) -> None:
    assert agent_class(agent, bot_reason(agent)) == kind
