"""`cartback preview` shows every arm, variant and language, with the opt-out where it applies."""

from __future__ import annotations

from pathlib import Path

from cartback.config import load_config
from cartback.preview import preview

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(path: Path, flow: str) -> tuple[int, str]:
    lines: list[str] = []
    code = preview(load_config(path, {}), flow, lines.append)
    return code, "\n".join(lines)


def test_the_experiments_example_shows_each_arm_variant_and_language() -> None:
    code, shown = run(EXAMPLES / "experiments.yaml", "cart-recovery")
    assert code == 0
    assert "holdout: 10% of carts get no message" in shown
    assert "timing test delay-2026-12: compared by conversion" in shown
    assert "  arm fast (50% of carts): entered after 20m" in shown
    assert "  arm slow (50% of carts): entered after 2h, step 2 waits 12h" in shown
    assert "A/B test cart-recovery.step1: compared by net revenue" in shown
    assert "  variant plain (50% of carts):" in shown
    assert "  variant ten-off (50% of carts):\n    discount: percentage 10" in shown
    assert shown.count("    in da:") == 2 and shown.count("    in en:") == 2
    assert "Brug BACK-7KQ2-M9XD for 10% rabat i 48 timer." in shown
    # the Danish sample number gets the shop's Danish opt-out, counted in the figures
    assert "http://localhost:8000/r/AbCdEfGhIjKl\n            Afmeld: svar STOP" in shown
    assert "to CA, US numbers, with 'Reply STOP to opt out.': GSM-7" in shown
    assert "subject: Din kurv hos Nordic Knitwear venter på dig" in shown


def test_an_opt_out_that_needs_a_second_segment_is_a_warning(tmp_path: Path) -> None:
    config = tmp_path / "cartback.yaml"
    config.write_text(
        """\
api_token: t
stores:
  - {id: us, platform: generic, insecure: true, name: Acme Outdoor Supply, default_country: US}
channels:
  sms: {provider: outbox, sender: Acme, cost_per_segment: 0.01}
flows:
  - id: long
    store: us
    abandon_after: 1h
    steps:
      - send: sms
        template: >-
          Hi {{ first_name }}, you left a tent and two sleeping bags in your basket at
          {{ store_name }}. We saved it all for you: {{ link }}
""",
        encoding="utf-8",
    )
    code, shown = run(config, "long")
    # the US sample number gets the opt-out, and it is what needs the second segment
    assert "you: http://localhost:8000/r/AbCdEfGhIjKl\n        Reply STOP to opt out." in shown
    assert "2 segments, cost 0.02" in shown
    assert "warning: this message needs 2 segments; shorten it to fit one" in shown
    assert code == 1


def test_a_store_language_gives_the_built_in_text_in_that_language(tmp_path: Path) -> None:
    config = tmp_path / "cartback.yaml"
    config.write_text(
        """\
api_token: t
stores:
  - {id: dk, platform: generic, insecure: true, name: Butik, locale: da}
channels:
  sms: {provider: outbox, sender: Butik}
flows:
  - {id: plain, store: dk, abandon_after: 1h, steps: [{send: sms}]}
""",
        encoding="utf-8",
    )
    code, shown = run(config, "plain")
    assert code == 0
    assert "text: Hej Astrid, din kurv hos Butik er gemt. Gør din ordre færdig:" in shown
