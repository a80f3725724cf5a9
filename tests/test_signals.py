"""Message signals (smishctl.signals): links however they are hidden, registrable domains from the
shipped Public Suffix List, brands and their lookalikes, the rest of what an analyst reads first; no
network, and a clear bounded answer for hostile input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from smishctl.signals import MAX_CHARS, MAX_SIGNALS, MAX_URLS, extract, load_lists
from smishctl.signals.features import names, vector

REPO = Path(__file__).resolve().parents[1]


def values(signals, name):
    return [s.value for s in signals.of(name)]


def spans_cover(text, signals, name):
    return [text[s.span[0]:s.span[1]] for s in signals.of(name)]


# ---- links, however they are written ----------------------------------------------------------

@pytest.mark.parametrize("text, url, how", [
    ("Pay now: https://e-zpass.tollcenter-pay.top/us today", "https://e-zpass.tollcenter-pay.top/us", ()),
    ("Pay now: hxxps://e-zpass.tollcenter-pay.top/us", "https://e-zpass.tollcenter-pay.top/us", ("hxxp",)),
    ("Pay now: e-zpass[.]tollcenter-pay[.]top/us", "http://e-zpass.tollcenter-pay.top/us", ("bracket-dot",)),
    ("Pay now: tollcenter-pay(dot)top", "http://tollcenter-pay.top", ("bracket-dot",)),
    ("Pay now at tollcenter-pay dot top before 5pm", "http://tollcenter-pay.top", ("word-dot",)),
    ("Pay now at tollcenter-pay . top/us", "http://tollcenter-pay.top/us", ("spaced-dot",)),
    ("Settle it: tolldue-notice.cc/tr.", "http://tolldue-notice.cc/tr", ()),
    ("see www.usps.com, thanks", "http://www.usps.com", ()),
])
def test_each_obfuscation_is_a_link_with_its_span(text, url, how):
    s = extract(text)
    assert values(s, "url") == [url]
    link = s.of("url")[0]
    assert text[link.span[0]:link.span[1]].replace(" ", "").startswith(("h", "e", "t", "w"))
    assert tuple(v for v in values(s, "url_obfuscated") for v in v.split(", ")) == how
    assert values(s, "domain")[0] == url.split("//")[1].split("/")[0].removeprefix("e-zpass.").removeprefix("www.")


def test_a_bare_domain_is_a_link_without_scheme_and_prose_is_not():
    s = extract("The Toll Roads: amount due $12.51, pay at tolldue-notice.cc/tr")
    assert values(s, "domain") == ["tolldue-notice.cc"]
    assert values(s, "url_no_scheme") == ["tolldue-notice.cc"]
    for prose in ("Call me. It is fine e.g. at 3.50 or St.Louis", "what a big dot deal", "v1.2.3 is out",
                  "mail john@example.com"):
        assert not extract(prose).of("url"), prose


def test_registrable_domain_uses_the_public_suffix_list():
    s = extract("go to https://secure.login.barclays.co.uk.verify-id.co.uk/x")
    assert values(s, "domain") == ["verify-id.co.uk"]
    assert values(s, "brand_in_subdomain") == ["barclays in secure.login.barclays.co.uk"]


# ---- brands, lookalikes, IDN ------------------------------------------------------------------

def test_a_brand_on_its_own_domain_is_official_and_elsewhere_a_mismatch():
    ok = extract("Amazon: your parcel arrives today, track it at amazon.com/orders")
    assert values(ok, "brand") == ["amazon"] and values(ok, "brand_official_link") == ["amazon: amazon.com"]
    assert not ok.of("brand_link_mismatch") and not ok.of("lookalike")
    gov = extract("HMRC: your tax code changed, see www.tax.service.gov.uk")
    assert values(gov, "brand_official_link") == ["hmrc: www.tax.service.gov.uk"]
    bad = extract("USPS: confirm your address within 48 hours: https://usps.com-trackrdv.top/us")
    assert values(bad, "brand_link_mismatch") == ["usps named, link on com-trackrdv.top"]
    assert values(bad, "brand_in_subdomain") == ["usps in usps"]


@pytest.mark.parametrize("host, expect", [
    ("paypa1.com", "lookalike"),          # digit swap
    ("paypall.com", "lookalike"),         # one edit
    ("arnazon.com", "lookalike"),         # rn -> m
    ("paypal-secure-login.com", "brand_in_domain"),
    ("login.paypal.verify-now.top", "brand_in_subdomain"),
    ("verify-now.top/paypal/login", "brand_in_path"),
])
def test_lookalikes(host, expect):
    s = extract(f"Your account is locked, restore it at {host}")
    assert s.of(expect), (host, s.to_dict())
    assert not s.of("brand_official_link")


def test_punycode_and_a_cyrillic_homoglyph_host():
    cyr = "\u0430pple.com"  # Cyrillic а
    s = extract(f"Apple ID locked: https://{cyr}/verify")
    assert values(s, "idn") == [f"{cyr} = xn--pple-43d.com"]
    assert "CYRILLIC SMALL LETTER A" in values(s, "homoglyph")[0]
    assert values(s, "lookalike") == [f"{cyr} looks like apple.com (apple)"]
    p = extract("Apple ID locked: https://xn--pple-43d.com/verify")
    assert values(p, "idn") == [f"xn--pple-43d.com = {cyr}"]
    assert p.of("homoglyph") and p.of("lookalike")


def test_a_broken_idn_is_a_signal_not_a_crash():
    for host in ("xn--zz.com", "xn--99999999999.com", "www.xn--a-ecp.ru.xn--zz.top"):
        s = extract(f"go to https://{host}/x now")
        assert s.of("idn_invalid"), host


def test_shortener_ip_host_and_tld_note():
    s = extract("Claim: bit.ly/3xYz and http://192.168.10.4/pay and https://win-now.top")
    assert values(s, "shortener") == ["bit.ly"]
    assert values(s, "ip_host") == ["192.168.10.4"]
    assert values(s, "tld_risk")[0].startswith(".top: ")


# ---- the rest of the message ------------------------------------------------------------------

def test_phone_short_code_money_deadline_urgency():
    text = ("Your account will be suspended. Pay £60 within 7 days or call 1-888-555-0176, "
            "text STOP to 60555, dial *555*1#. Fee 1.45 GBP, Rs 1,832, N2,500.")
    s = extract(text)
    assert values(s, "phone") == ["18885550176"]
    assert values(s, "short_code") == ["60555", "*555*1#"]
    assert values(s, "money") == ["£60", "1.45 GBP", "Rs 1,832", "N2,500"]
    assert values(s, "deadline") == ["within 7 days"]
    assert values(s, "urgency") == ["will be suspended"]
    assert spans_cover(text, s, "money") == ["£60", "1.45 GBP", "Rs 1,832", "N2,500"]


def test_requests_for_codes_and_card_data_and_the_genuine_otp_wording():
    scam = extract("Revolut: to block them, reply to this message with the 6-digit code. Also confirm your card "
                   "number and CVV")
    assert scam.of("code_request") and scam.of("card_request") and not scam.of("do_not_share")
    genuine = extract("123456 is your verification code. Do not share this code with anyone. "
                      "We will never ask you to send your PIN.")
    assert values(genuine, "otp_code") == ["123456"]
    assert genuine.of("do_not_share")
    assert not genuine.of("code_request")  # "never ask you to send your PIN" denies the request
    assert not extract("HMRC: we will not ask for your bank details by text.").of("card_request")


def test_signals_are_deterministic_and_spans_point_into_the_text():
    text = "USPS: pay $1.99 at https://usps-customs-hold.click within 24 hours or call 020 7946 0183"
    a, b = extract(text), extract(text)
    assert a == b
    for sig in a.items:
        assert 0 <= sig.span[0] < sig.span[1] <= len(text)
    assert len(vector(a)) == len(names())


# ---- no network, nothing written --------------------------------------------------------------

def test_extraction_reaches_no_network_and_writes_nothing(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    script = textwrap.dedent("""
        import socket
        def refuse(*a, **k):
            raise AssertionError("network call during signal extraction")
        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        from smishctl.signals import extract
        s = extract("Pay at https://e-zpass.tollcenter-pay.top/us or xn--pple-43d.com, bit.ly/x")
        assert [x.value for x in s.of("domain")] == ["tollcenter-pay.top", "xn--pple-43d.com", "bit.ly"], s
        print("ok")
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env.update(HOME=str(home), TLDEXTRACT_CACHE=str(home / "tld"), PYTHONPATH=str(REPO))
    r = subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
    assert list(home.rglob("*")) == []


# ---- hostile input: a clear, bounded answer ---------------------------------------------------

def test_ten_megabytes_is_read_up_to_the_cap_and_says_so():
    text = "pay at bit.ly/x now " + "a" * 10_000_000
    start = time.perf_counter()
    s = extract(text)
    assert time.perf_counter() - start < 2
    assert values(s, "shortener") == ["bit.ly"]
    assert s.notes == (f"only the first {MAX_CHARS} of {len(text)} characters were read",)
    assert s.text_chars == len(text)


def test_nul_bytes_separate_and_are_said():
    text = "pay\x00at\x00https://win-now.top\x00now \x00\x00\x00"
    s = extract(text)
    assert values(s, "domain") == ["win-now.top"]
    span = s.of("url")[0].span
    assert text[span[0]:span[1]] == "https://win-now.top"
    assert s.notes == ("6 NUL characters in the message were read as separators",)


def test_ten_thousand_links_are_capped_and_the_cap_is_said():
    text = " ".join(f"x{i}.top" for i in range(10_000))
    start = time.perf_counter()
    s = extract(text)
    assert time.perf_counter() - start < 2
    assert s.count("url") == MAX_URLS
    assert len(s.items) <= MAX_SIGNALS
    found = text[:MAX_CHARS].count(".top")
    assert f"{found} links found, the first {MAX_URLS} recorded" in s.notes


def test_not_a_string_is_not_a_crash():
    assert extract("").items == ()
    assert extract(None).items == ()  # type: ignore[arg-type]


# ---- reference lists --------------------------------------------------------------------------

def test_lists_name_source_and_date_and_a_project_extends_them():
    base = load_lists()
    assert set(base.identity["lists"]) == {"brands", "shorteners", "tlds"}
    assert all(len(v["sha256"]) == 64 and v["version"] for v in base.identity["lists"].values())
    assert base.identity["psl"]["tldextract"] == "5.4.0"
    for name in ("brands", "shorteners", "tlds"):
        doc = json.loads((REPO / "smishctl" / "bundled" / "signals" / f"{name}.json").read_text())
        assert doc["source"] and doc["date"]
    own = load_lists({"brands": {"mybank": {"names": ["MyBank"], "domains": ["mybank.example"]}},
                      "shorteners": ["go.acme.io"]})
    assert own.identity["sha256"] != base.identity["sha256"]
    s = extract("MyBank: log in at mybank-secure.top or go.acme.io/abc", own)
    assert values(s, "brand") == ["mybank"] and values(s, "shortener") == ["go.acme.io"]
    assert values(s, "brand_in_domain") == ["mybank in mybank-secure.top"]
    assert not extract("MyBank: log in at mybank-secure.top or go.acme.io/abc", base).of("shortener")


def test_a_project_brand_without_a_domain_is_refused():
    from smishctl.core.errors import ConfigError

    with pytest.raises(ConfigError, match="names no official domain"):
        load_lists({"brands": {"nobank": {"names": ["NoBank"]}}})


# ---- the signal-aware SVM ---------------------------------------------------------------------

def test_the_signal_aware_svm_carries_the_lists_in_its_identity(settings):
    import dataclasses

    from smishctl.models.registry import resolve_model
    from smishctl.ops.evaluate import EvalConfig, prepare

    spec = resolve_model("classic/tfidf-svm-signals", settings)
    assert spec.extra["classic"] == "tfidf-svm-signals"
    assert spec.signals_sha256 == load_lists(settings.section("signals")).identity["sha256"][:16]
    assert spec.public()["signals_sha256"] == spec.signals_sha256
    own = dataclasses.replace(settings, raw={**settings.raw, "signals": {"shorteners": ["go.acme.io"]}})
    other = resolve_model("classic/tfidf-svm-signals", own)
    assert other.signals_sha256 != spec.signals_sha256 and other.endpoint_tag != spec.endpoint_tag
    plain = resolve_model("classic/tfidf-svm", settings)  # no signals: its identity is as it always was
    assert plain.signals_sha256 is None and plain.endpoint_tag == resolve_model("classic/tfidf-svm", own).endpoint_tag
    cfg = EvalConfig(model="classic/tfidf-svm-signals", split="test", limit=4)
    assert prepare(settings, cfg).record.config_hash != prepare(own, cfg).record.config_hash


def test_balanced_is_an_option_of_the_two_svms(settings):
    from smishctl.core.errors import ModelError
    from smishctl.models.registry import check_model_name, resolve_model
    from smishctl.solve.classic import make_pipeline

    spec = resolve_model("classic/tfidf-svm-signals:balanced", settings)
    assert spec.extra == {**spec.extra, "classic": "tfidf-svm-signals", "balanced": True}
    assert make_pipeline("tfidf-svm", balanced=True).named_steps["svm"].class_weight == "balanced"
    assert make_pipeline("tfidf-svm").named_steps["svm"].class_weight is None
    for bad in ("classic/tfidf-knn:balanced", "classic/tfidf-svm:fast"):
        with pytest.raises(ModelError, match="has no option"):
            check_model_name(bad, settings)


def _examples(n=12):
    from types import SimpleNamespace

    words = ["blue", "green", "red", "gold", "silver", "black", "white", "pink", "grey", "brown", "navy", "teal"]
    ham = [SimpleNamespace(text=f"Amazon: your {w} order {i} ships today, track it at amazon.com/orders", label="ham")
           for i, w in enumerate(words[:n])]
    scam = [SimpleNamespace(text=f"Amazon: your {w} order {i} is on hold, pay the fee at parcel-{w}-{i}.top/pay",
                            label="smishing") for i, w in enumerate(words[:n])]
    return ham + scam


def test_the_signal_columns_are_learnt(settings):
    from smishctl.models.registry import resolve_model
    from smishctl.solve.classic import ClassicSolver

    for name in ("classic/tfidf-svm-signals", "classic/tfidf-svm-signals:balanced"):
        spec = resolve_model(name, settings)
        solver = ClassicSolver.train(_examples(), ("ham", "smishing"), spec)
        svm = solver.pipeline.named_steps["svm"]
        assert svm.class_weight == ("balanced" if name.endswith(":balanced") else None)
        cols = dict(zip(names(), svm.coef_[0][-len(names()):], strict=True))  # positive: smishing
        assert cols["brand_link_mismatch"] > 0 and cols["tld_risk"] > 0 and cols["brand_official_link"] < 0, cols
        row = solver("Amazon: pay the customs fee at amazon-customs.top/x")
        assert row["status"] == "ok" and row["pred"] == "smishing"


# ---- people: classify --explain and --json, runs show --items, review --------------------------

def test_classify_explain_shows_spans_and_json_carries_the_signals(cli):
    msg = "USPS: your parcel is held. Pay $1.99 within 24 hours at https://usps.com-trackrdv.top/us"
    model = ("--model", "classic/tfidf-svm-signals")
    r = cli("classify", *model, "--json", msg)
    assert r.returncode == 0, r.stderr
    row = json.loads(r.stdout)
    sig = {s["name"]: s for s in row["signals"]["items"]}
    assert sig["brand_link_mismatch"]["value"] == "usps named, link on com-trackrdv.top"
    a, b = sig["money"]["span"]
    assert msg[a:b] == "$1.99"
    assert row["signals"]["lists_sha256"] == load_lists().identity["sha256"]
    r = cli("classify", *model, "--explain", msg, env={"COLUMNS": "120"})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[0] in ("smishing", "spam", "ham") and "smishing=" in lines[0]  # label and probabilities
    assert msg[:40] in r.stdout
    assert any(line.startswith("brand_link_mismatch") and "56-88" in line for line in lines)
    assert any(line.startswith("money") and "31-36 '$1.99'" in line for line in lines)


def test_explain_lists_the_nearest_training_messages_of_a_knn_program(settings, tmp_path):
    import shutil

    from smishctl.ops.classify import load_classifier

    shutil.copytree(REPO / "tests" / "fixtures" / "prompts", tmp_path / "prompts")
    art = tmp_path / "prompts" / "sms-phishing" / "qwen2.5-coder-0.5b"
    text = "Your parcel fee is due, pay now at usps-fee.top"
    near = load_classifier(settings, prompt=str(art / "v0002")).neighbours(text)
    program = load_classifier(settings, prompt=str(art / "v0002")).solver.program
    sims = (program._matrix @ program._vec.transform([text]).T).toarray().ravel()
    pool = [t for t, _ in program.pool]
    got = [sims[pool.index(n["text"])] for n in near]
    assert len(near) == program.k and got == sorted(got, reverse=True)  # most similar first
    assert load_classifier(settings, prompt=str(art / "v0001")).neighbours(text) is None  # not a kNN program


def test_runs_show_items_and_review_show_signals(settings, cli):
    from factories import record_run
    from rich.console import Console

    from smishctl.cli.review_cmd import _show
    from smishctl.ops.evaluate import EvalConfig
    from smishctl.ops.review import ReviewSession

    run_id = record_run(settings, EvalConfig(model="classic/tfidf-svm", split="test", limit=30)).id
    r = cli("runs", "show", run_id, "--items", "--json")
    assert r.returncode == 0, r.stderr
    items = json.loads(r.stdout)
    assert all(it["signals"]["items"] == extract(it["text"]).to_dict()["items"] for it in items)
    assert any(it["signals"]["items"] for it in items)
    r = cli("runs", "show", run_id, "--items", env={"COLUMNS": "200"})
    assert r.returncode == 0, r.stderr
    assert any(line.split()[:6] == ["#", "item", "gold", "pred", "signals", "text"] for line in r.stdout.splitlines())
    with_signal = next(it for it in items if any(s["name"] != "url" for s in it["signals"]["items"]))
    shown = extract(with_signal["text"]).to_dict()
    first = next(s["name"] for s in shown["items"] if s["name"] not in ("url", "domain", "url_no_scheme"))
    assert any(first in line for line in r.stdout.splitlines() if with_signal["item_id"] in line)
    session = ReviewSession(settings, run_id)
    item = next(i for i in session.pending() if extract(i.text).items)
    screen = Console(record=True, width=80)
    _show(screen, session, item, 1, 2, "")
    text = screen.export_text()
    assert extract(item.text).items[0].name in text
    assert [line for line in text.splitlines() if len(line) > 80] == []


# ---- the kNN program's prior can be the signal-aware SVM --------------------------------------

@pytest.mark.model
def test_a_knn_prior_can_read_signals_and_its_artifact_names_the_lists(settings):
    from smishctl.ops.optimize import OptimizeConfig, optimize
    from smishctl.solve.classic import make_pipeline, softmax_scores
    from smishctl.solve.knn import KNNClassifier
    from smishctl.store.artifacts import PROGRAM, resolve_artifact
    from smishctl.store.programs import load_program

    labels = ("ham", "spam", "smishing")
    s = optimize(settings, OptimizeConfig(optimizer="knn", train_size=12, dev_size=3, langfuse=False,
                                          params={"k": "2", "prior": "0.5",
                                                  "prior_model": "classic/tfidf-svm-signals"})).to_dict()
    art = resolve_artifact(settings.prompts_dir, s["artifact"])
    state = json.loads((art.dir / PROGRAM).read_text())
    assert state["prior"] == {"model": "classic/tfidf-svm-signals", "weight": 0.5,
                              "signals_sha256": load_lists().identity["sha256"]}
    program = load_program(art, labels)
    text = "USPS: pay the $1.99 fee within 24 hours at usps.com-trackrdv.top/us"
    svm = make_pipeline("tfidf-svm-signals").fit([t for t, _ in program.pool], [lab for _, lab in program.pool])
    assert program.prior_probs(text) == {lab: softmax_scores(svm, text).get(lab, 0.0) for lab in labels}
    # Lists other than those it was optimized with: the prior would not be the one evaluated.
    with pytest.raises(ValueError, match="reference lists changed"):
        KNNClassifier.from_state({**state, "prior": {**state["prior"], "signals_sha256": "0" * 64}}, labels)


def test_an_unknown_prior_model_is_refused_before_any_model_call(settings):
    from smishctl.core.errors import ConfigError
    from smishctl.solve.knn import KNNClassifier
    from smishctl.solve.optimizers import knn_grid

    params = {"k": "2", "order": "nearest-last", "dedup": "false", "instructions": "knn", "words": "labels",
              "max_demo_chars": "320", "prior": "0.5", "prior_model": "classic/bert"}
    with pytest.raises(ConfigError, match="prior_model"):
        knn_grid(params, ("ham", "spam", "smishing"))
    with pytest.raises(ValueError, match="unknown prior model"):
        KNNClassifier([("hi", "ham"), ("win", "spam")], ("ham", "spam"), prior_model="classic/tfidf-knn")


def test_a_project_extends_the_lists_in_its_config(cli, project):
    toml = project / "smishctl.toml"
    base = toml.read_text(encoding="utf-8")
    toml.write_text(base + '\n[signals]\nshorteners = ["go.acme.io"]\n\n[signals.brands.mybank]\nnames = ["MyBank"]\n'
                    'domains = ["mybank.com"]\n', encoding="utf-8")
    r = cli("classify", "--model", "classic/tfidf-svm-signals", "--json",
            "MyBank: your card is locked, verify at mybank-secure.top or go.acme.io/x")
    assert r.returncode == 0, r.stderr
    row = json.loads(r.stdout)
    got = {(s["name"], s["value"]) for s in row["signals"]["items"]}
    assert {("brand", "mybank"), ("brand_in_domain", "mybank in mybank-secure.top"), ("shortener", "go.acme.io")} <= got
    assert row["signals"]["lists_sha256"] != load_lists().identity["sha256"]
    toml.write_text(base + "\n[signals]\nshorteners = 3\n", encoding="utf-8")
    r = cli("classify", "--model", "classic/tfidf-svm-signals", "hello")
    assert r.returncode == 2 and "[signals] shorteners must be a list of strings" in r.stderr
