"""The kNN program's signals line (`optimize --param signals=true`): one short line of analyst signals
after the SMS and after each demo, rendered the same way, stored with the program, and sent alike by
evaluate, `prompts show --for` and production. The fault server is the model endpoint."""

from __future__ import annotations

import json

import pytest
from faultutil import fake_model_fixture, fault_fixture  # noqa: F401

from smishctl.signals import load_lists
from smishctl.solve.label_chat import MAX_SIGNALS_CHARS, SIGNALS_FORMAT, signals_line, with_signals

LABELS = ("ham", "spam", "smishing")
TOLL = "Your toll is unpaid. Pay $4.15 by today at https://tollcenter-pay.top/e to avoid a fine - EZPass"


@pytest.mark.parametrize(("text", "line"), [
    (TOLL, "[signals: link tollcenter-pay.top (not e-zpass's domain; risky TLD); urgency; money; deadline]"),
    ("Your Amazon order has shipped, track it at https://www.amazon.com/x",
     "[signals: link amazon.com (amazon's own domain)]"),
    ("see you at 5, bring the cake bit.ly/abc", "[signals: link bit.ly (shortener)]"),
    ("Your code is 123456. Do not share this code.", "[signals: one-time code; do-not-share wording]"),
    ("Hi mum I lost my phone, text me on 07700900123", "[signals: phone number]"),
    ("DHL here, your parcel is on its way", "[signals: brand dhl]"),
    ("ok see you later", "[signals: none]"),
])
def test_the_signals_line_names_what_fired_in_one_short_line(text, line):
    assert signals_line(text) == line
    assert with_signals(text) == f"{text}\n{line}"


def test_the_signals_line_stays_short_on_a_message_full_of_signals():
    text = ("DHL and PayPal: urgent, verify at http://dhl-redeliver.top/x or hxxp://paypa1[.]com/login or "
            "http://1.2.3.4/x by today, call 0800 123 4567, pay $5, reply with the code you receive and your card "
            "number. Your code is 123456, do not share this code.")
    line = signals_line(text)
    # whole parts, as many as fit: a long second link is left out, the shorter notes after it are kept
    assert line == ("[signals: link dhl-redeliver.top (not dhl/paypal's domain; risky TLD); urgency; deadline; "
                    "phone number; money; …]")
    assert len(line) <= len("[signals: ]") + MAX_SIGNALS_CHARS
    many = " ".join(f"http://pay{i}-dhl.top/x" for i in range(50))
    assert signals_line(many).count("link ") == 2


def _optimize(settings, model, signals: str):
    from smishctl.ops.optimize import OptimizeConfig, optimize

    return optimize(settings, OptimizeConfig(model=model, optimizer="knn", train_size=8, dev_size=3,
                                             langfuse=False, params={"k": "2", "prior": "0.5",
                                                                     "signals": signals})).to_dict()


def test_the_signals_line_reaches_the_model_for_the_sms_and_each_demo_and_production_sends_the_same(
        fake_model, fault, project):
    from factories import accept_small_promotions, promotion_run

    from smishctl.core.config import load_settings
    from smishctl.ops.evaluate import EvalConfig, prepare
    from smishctl.ops.production import load_production
    from smishctl.ops.promote import promote
    from smishctl.ops.prompt_preview import messages_for
    from smishctl.store.artifacts import PROGRAM, resolve_artifact
    from smishctl.store.programs import load_program

    settings = load_settings(project)
    s = _optimize(settings, fake_model, "true")
    art = resolve_artifact(settings.prompts_dir, s["artifact"])
    state = json.loads((art.dir / PROGRAM).read_text())
    assert state["signals"] == {"format": SIGNALS_FORMAT, "lists_sha256": load_lists().identity["sha256"]}
    program = load_program(art, LABELS)
    assert program.signals and len(program.pool) == 8
    # Optimize scored dev with the line too: every request's SMS turn ends with its line (a request that
    # scores what follows a shared first token ends with that prefilled assistant turn).
    # (The zero-shot baseline optimize also scores has no demos and no line.)
    asked = [next(m["content"] for m in reversed(r.messages) if m["role"] == "user") for r in fault.chat_requests()
             if sum(m["role"] == "assistant" for m in r.messages) >= 2]
    assert asked and all(c == with_signals(c.rsplit("\n", 1)[0]) for c in asked)

    fault.reset()
    plan = prepare(settings, EvalConfig(model=fake_model, prompt=art.id, num_retries=0, cache=False))
    evaluated = plan.solver(TOLL)
    sent = [r.messages for r in fault.chat_requests()]
    assert sent and [m for m in sent[0] if m["role"] == "user"][-1] == {"role": "user", "content": with_signals(TOLL)}
    demos = [m["content"] for m in sent[0] if m["role"] == "user"][:-1]
    assert len(demos) == 2
    for shown, (text, _) in zip(demos, program.neighbours(TOLL), strict=True):
        assert shown == f"{text}\n{signals_line(text)}"  # each demo rendered as the SMS is
    # prompts show --for renders exactly what evaluate sent
    preview = messages_for(settings, art.id, TOLL)
    assert [{"role": m["role"], "content": m["content"]} for m in sent[0]] == preview.messages
    # production sends exactly what evaluate sent and decides alike
    accept_small_promotions(settings)
    promotion_run(settings, art, run_id="run-signals")
    promote(settings, art.id, run="run-signals", reason="signals parity")
    fault.reset()
    produced = load_production(project, model=fake_model).predict(TOLL)
    assert [r.messages for r in fault.chat_requests()] == sent
    assert produced["pred"] == evaluated["pred"] and produced["probs"] == evaluated["probs"]


def test_a_program_with_signals_reloads_byte_identically_and_is_another_program(fake_model, fault, project):
    from smishctl.core.config import load_settings
    from smishctl.solve.knn import KNNClassifier
    from smishctl.store.artifacts import PROGRAM, resolve_artifact

    settings = load_settings(project)
    s_on, s_off = _optimize(settings, fake_model, "true"), _optimize(settings, fake_model, "false")
    on, off = (resolve_artifact(settings.prompts_dir, s["artifact"]) for s in (s_on, s_off))
    assert s_on["files"]["program.json"] != s_off["files"]["program.json"]  # another program, another identity
    state = json.loads((on.dir / PROGRAM).read_text())
    again = KNNClassifier.from_state(state, LABELS).state()
    assert again["signals"] == state["signals"]
    assert json.dumps(again, sort_keys=True) == json.dumps({k: v for k, v in state.items() if k in again},
                                                           sort_keys=True)
    off_state = json.loads((off.dir / PROGRAM).read_text())
    assert "signals" not in off_state and not KNNClassifier.from_state(off_state, LABELS).signals
    # Another wording of the line, or other reference lists: not the program that was evaluated.
    with pytest.raises(ValueError, match="not 'line-v1'"):
        KNNClassifier.from_state({**state, "signals": {**state["signals"], "format": "line-v0"}}, LABELS)
    with pytest.raises(ValueError, match="reference lists changed"):
        KNNClassifier.from_state({**state, "signals": {**state["signals"], "lists_sha256": "0" * 64}}, LABELS)


def test_a_bad_signals_value_is_one_line_exit_2_before_any_model_call(cli, project):
    r = cli("optimize", "--param", "signals=maybe", "--no-langfuse")
    assert r.returncode == 2, r.stderr
    assert "knn parameter signals='maybe'" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not list((project / "prompts").glob("*/*/v*"))
