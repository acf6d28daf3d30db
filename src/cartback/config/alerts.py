"""`alerts:`: when a checkout stage's share of abandoned carts counts as a problem, and who hears.

```yaml
alerts:
  webhook_url: https://hooks.example/cartback   # optional: POSTed a JSON body per alert
  email: owner@shop.example                     # optional: sent through the email channel
  threshold: 3.0      # how many standard errors above the baseline share raise an alert
  min_carts: 30       # abandoned carts in the window, at the least, before any alert
  window: 24h         # the period looked at, against the same hours of the previous days
  baseline_days: 28
  check_every: 1h
```
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from cartback.config.base import PositiveDuration, _Model


class AlertsConfig(_Model):
    webhook_url: str | None = None
    email: str | None = None
    threshold: float = Field(default=3.0, gt=0)
    min_carts: int = Field(default=30, ge=1)
    window: PositiveDuration = timedelta(hours=24)
    baseline_days: int = Field(default=28, ge=1, le=365)
    check_every: PositiveDuration = timedelta(hours=1)
