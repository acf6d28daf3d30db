"""History: run the one engine over past or generated shop events, on the in-memory store with a
simulated clock. `backtest` replays a shop's own events, `simulate` a generated world checked by
`invariants`, written apart from the policy code so that it can catch the policy's mistakes."""
