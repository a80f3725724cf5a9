"""`prompts show VERSION --for TEXT`: the chat messages the model would be sent for one message.

The solver comes from `build_solver` (the one builder evaluate and production use), so the hardening
(sanitising, and fencing for the json adapter) and the adapter are the ones that run; the messages are
that adapter's rendering of the program's signature, with the demos the program would use: its fixed
demos, or for a kNN program the training messages it retrieves for this text. No model is loaded or called.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from smishctl.core.config import Settings
from smishctl.core.errors import ConfigError
from smishctl.models.registry import resolve_model
from smishctl.solve.build import build_solver
from smishctl.solve.harden import harden_text, injection_signals, sanitize_sms
from smishctl.store.artifacts import resolve_artifact
from smishctl.store.programs import load_adapter_config, load_program


@dataclass(frozen=True)
class Preview:
    artifact: str
    messages: list[dict[str, Any]]
    demos: int  # how many demos the messages hold
    retrieved: bool  # the demos were retrieved for this text (kNN)
    fenced: bool  # the SMS was fenced between markers (json adapter)
    guard: list[str]  # injection signals: the guard keeps such a message from coming out as ham


def messages_for(settings: Settings, ref: str, text: str) -> Preview:
    if not text.strip():
        raise ConfigError("--for needs a message", hint='e.g. --for "Your parcel is held: pay at http://x.co"')
    art = resolve_artifact(settings.prompts_dir, ref)
    if art.is_zero_shot:
        raise ConfigError("zero-shot has no stored artifact", hint="name a version from smishctl prompts list")
    info = art.info
    program = load_program(art, info.labels)
    adapter_config = load_adapter_config(art)
    # The model only names the solver's endpoint; nothing is called. (lora: its base model, not the adapter.)
    spec = resolve_model((info.base_model or {}).get("name") or info.model_name, settings)
    solver = build_solver(program, None, spec, info.labels, adapter_config)  # hardened, as evaluate builds it
    fenced = solver.fence
    sent = harden_text(text) if fenced else sanitize_sms(text)  # what HardenedSolver hands the program
    retrieves = hasattr(program, "neighbours")
    if retrieves:
        predictor = program.predict
        pairs, sent = program.chat_inputs(sent)  # the demos and SMS as forward() sends them (signals line)
        demos = [{"sms": t, "label": lab} for t, lab in pairs]
    else:
        predictor = program.predictors()[0]
        demos = [d.toDict() if hasattr(d, "toDict") else dict(d) for d in predictor.demos]
    messages = solver.inner.adapter.format(predictor.signature, demos, {"sms": sent})
    return Preview(artifact=art.id, messages=[{"role": m["role"], "content": m["content"]} for m in messages],
                   demos=len(demos), retrieved=retrieves, fenced=fenced, guard=injection_signals(text))
