"""Calling the winners of `auto_winner` experiments, as a periodic job of the worker.

An arm is called once it is best with 95% probability and every arm has its minimum of carts
(`domain/best_arm.judge`, on the same figures as the report). The call is kept with when and
why; from then on new carts of that experiment get the winner (`Flow.assign`), and carts
assigned before keep their arms.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

from cartback.clock import Clock
from cartback.domain.experiments import Winner
from cartback.domain.flow import Flow
from cartback.domain.measure import Counting, experiment
from cartback.store.base import Store

log = logging.getLogger("cartback.experiments")
EVERY = timedelta(minutes=10)


class WinnerCaller:
    def __init__(self, store: Store, clock: Clock, flows: Sequence[Flow], window: timedelta):
        self.store = store
        self.clock = clock
        self.flows = [f for f in flows if any(e.auto_winner for e in f.experiments)]
        self.counting = Counting(window, None)

    def run(self) -> int:
        """Call every winner that is clear by now; how many were called."""
        now = self.clock.now()
        found = []
        with self.store.reading() as tx:
            known = tx.measure.winners()
            for flow in self.flows:
                open_ = [e for e in flow.experiments if e.auto_winner and e.id not in known]
                if not open_:
                    continue
                outcomes = tx.measure.outcomes(flow.store_id, None, flow.id)
                treated = [o for o in outcomes if not o.held_out]
                for config in open_:
                    result = experiment(config, treated, self.counting)
                    if result.winner is not None:
                        found.append(Winner(config.id, result.winner, now, result.why))
        called = 0
        with self.store.transaction() as tx:
            for winner in found:
                if tx.measure.call_winner(winner):
                    called += 1
                    extra = {"experiment": winner.experiment_id, "arm": winner.arm}
                    log.info("winner called: %s", winner.why, extra=extra)
        return called
