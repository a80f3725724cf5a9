"""The one item loop: every (position, example) through a solver as a prediction row, in order or on a
thread pool, handed to `on_row` in the caller's thread as it finishes. `evaluate` records the rows,
`optimize` scores candidates with them: both see the same rows for the same solver."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from smishctl.core.records import Solver
from smishctl.util import interrupt


def prediction_row(solver: Solver, index: int, example) -> dict:
    return {"item_id": example.id, "index": index, "gold": example.label, **solver(example.text),
            "text": example.text}


def solve_items(solver: Solver, todo: Iterable[tuple[int, object]], on_row: Callable[[dict], None], *,
                threads: int = 1, stop: Callable[[], bool] = lambda: False) -> None:
    """Ctrl-C is honoured after each row is handed over (a finished item is never thrown away); `stop`
    (an error budget) is asked after each row, and ends the loop without starting more items."""

    def handle(row: dict) -> None:
        on_row(row)
        interrupt.check()

    if threads <= 1:
        for i, ex in todo:
            handle(prediction_row(solver, i, ex))
            if stop():
                return
        return
    with ThreadPoolExecutor(max_workers=threads) as pool:
        queue = iter(todo)
        pending = set()

        def top_up() -> None:
            for i, ex in queue:
                pending.add(pool.submit(prediction_row, solver, i, ex))
                if len(pending) >= threads * 2:
                    break

        top_up()
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in finished:
                handle(f.result())
            if stop():
                for f in pending:
                    f.cancel()
                return
            top_up()
