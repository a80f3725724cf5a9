"""Metering of LM calls for `optimize`: calls, tokens and cost across student and teacher, and the
--max-calls budget, attached to each `dspy.LM` through DSPy's documented extension points.

- `MeteredEngine` wraps the LM's engine (`complete(Request) -> Response`): it refuses a call over
  the budget, checks for Ctrl-C, and adds the tokens and cost of every call that reaches the model.
- `Meter.callback()` is a DSPy LM callback: it counts every call, answers from DSPy's cache
  included, exactly once however often DSPy retries it. Cache answers never reach an engine, and a
  budget that ignored them would let a re-run with a warm cache search further than the first run
  did (another program from the same seed); counting them keeps a re-run the same run.

`lm.copy()` shares both (DSPy copies share the engine object and the callback objects), so copies an
optimizer makes at another temperature spend the same budget.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field

from dspy.utils.callback import BaseCallback
from dspy.utils.exceptions import LMError

from smishctl.util import interrupt

Price = Callable[[int, int, float], "float | None"]  # (prompt tokens, completion tokens, seconds) -> USD


class BudgetExhausted(LMError):
    """The --max-calls budget is spent. An LMError, so DSPy passes it through unchanged (its engine
    boundary keeps LM errors as they are; its optimizers re-raise them rather than record a failed
    example) and never retries it."""


@dataclass
class Meter:
    """Counts LM calls, tokens and cost across the student and teacher; enforces --max-calls."""

    max_calls: int | None = None
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    exhausted: bool = False
    enforcing: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)
    on_call: Callable[[Meter], None] | None = None
    # Whether the LM call now running in this context was refused (set as it starts, read by the engine).
    refused: ContextVar[bool] = field(default_factory=lambda: ContextVar("smishctl_meter_refused", default=False))

    def start_call(self) -> None:
        """One LM call begins: counted, or marked refused when the budget is spent."""
        with self.lock:
            over = self.enforcing and self.max_calls is not None and self.calls >= self.max_calls
            if not over:
                self.calls += 1
        self.refused.set(over)

    def admit(self) -> None:
        """Before a call reaches the model: raise when its start found the budget spent."""
        if self.refused.get() and self.enforcing:
            self.exhausted = True
            raise BudgetExhausted(f"LM call budget of {self.max_calls} exhausted")

    def add(self, prompt_tokens: int, completion_tokens: int, cost: float | None) -> None:
        with self.lock:
            self.prompt_tokens += prompt_tokens
            self.completion_tokens += completion_tokens
            self.cost_usd += cost or 0.0

    def engine(self, inner, price: Price) -> MeteredEngine:
        """`inner` (an engine), metered by this meter at `price`."""
        return MeteredEngine(inner, self, price)

    def callback(self) -> BaseCallback:
        """The LM callback that counts this meter's calls."""
        return _CallCounter(self)


class _CallCounter(BaseCallback):
    def __init__(self, meter: Meter):
        self.meter = meter

    def on_lm_start(self, call_id, instance, inputs):
        interrupt.check()  # between calls, also inside an optimizer's own loops (DSPy lets it propagate)
        self.meter.start_call()

    def on_lm_end(self, call_id, outputs, exception):
        if exception is None and self.meter.on_call:
            self.meter.on_call(self.meter)


class MeteredEngine:
    """A DSPy engine around another one: the budget and the spend of the calls that reach the model."""

    def __init__(self, inner, meter: Meter, price: Price):
        self.inner, self.meter, self.price = inner, meter, price

    def complete(self, request):
        interrupt.check()
        self.meter.admit()
        start = time.perf_counter()
        response = self.inner.complete(request)
        usage = response.usage
        p, c = usage.input_tokens or 0, usage.output_tokens or 0
        self.meter.add(p, c, self.price(p, c, time.perf_counter() - start))
        return response

    def stream(self, request):
        interrupt.check()
        self.meter.admit()
        return self.inner.stream(request)

    def close(self) -> None:
        self.inner.close()
