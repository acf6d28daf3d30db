"""`cartback simulate` at scale: 100,000 carts of a generated world, then the invariant checker.

Prints the summary (messages, gateway answers, violations by rule) and the run time; exits 1 on
any violation, like the command.

    python bench/simulate.py [--carts 100000] [--seed 1]
"""

from __future__ import annotations

import argparse
import logging
import resource
import time
from pathlib import Path

import cartback.history
from cartback.config import load_config
from cartback.history.simulate import simulate, text_lines

WORLD = Path(cartback.history.__file__).resolve().parent / "simulation.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--carts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    logging.getLogger("cartback").setLevel(logging.WARNING)
    settings = load_config(WORLD, environ={})
    started, cpu = time.perf_counter(), time.process_time()
    result = simulate(settings, args.carts, args.seed)
    took, cpu = time.perf_counter() - started, time.process_time() - cpu
    print("\n".join(text_lines(result)))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{args.carts:,} carts in {took:.1f} s ({args.carts / took:,.0f} carts/s, "
        f"cpu {cpu:.1f} s, peak memory {peak:,.0f} MB)"
    )
    if result.violations.total:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
