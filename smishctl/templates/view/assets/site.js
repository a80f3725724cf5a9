// smishctl view: the pages' own script. Data comes from the page's JSON block and is shown with
// textContent only (never innerHTML), so a message's text stays text. Filters live in the address
// (#gold=spam&wrong=1), so a view can be shared or reloaded.
(function () {
  'use strict';
  var page = document.body.getAttribute('data-page');
  var block = document.getElementById('data');
  var data = block ? JSON.parse(block.textContent) : null;

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function cell(tr, text, cls) { var td = el('td', text, cls); tr.appendChild(td); return td; }
  function fmt(v, digits) { return (v === null || v === undefined) ? '–' : Number(v).toFixed(digits === undefined ? 3 : digits); }
  function readHash() {
    var p = {};
    location.hash.replace(/^#/, '').split('&').forEach(function (kv) {
      if (!kv) return;
      var i = kv.indexOf('='), k = i < 0 ? kv : kv.slice(0, i), v = i < 0 ? '' : kv.slice(i + 1);
      try { p[decodeURIComponent(k)] = decodeURIComponent(v.replace(/\+/g, ' ')); } catch (e) { /* a malformed part is ignored */ }
    });
    return p;
  }
  function writeHash(p) {
    var s = Object.keys(p).filter(function (k) { return p[k] !== '' && p[k] !== null && p[k] !== undefined && p[k] !== false; })
      .map(function (k) { return encodeURIComponent(k) + '=' + encodeURIComponent(p[k]); }).join('&');
    history.replaceState(null, '', s ? '#' + s : location.pathname + location.search);
  }
  function fillSelect(sel, values) {
    values.forEach(function (v) { var o = el('option', v); o.value = v; sel.appendChild(o); });
  }
  function uniq(list) { return list.filter(function (v, i) { return v !== undefined && v !== null && list.indexOf(v) === i; }).sort(); }
  function byId(id) { return document.getElementById(id); }
  function link(href, text) { var a = el('a', text); a.setAttribute('href', href); return a; }

  // ---- Runs: filter by model, prompt, dataset, status and date; pick 2-4 to compare.
  function runsPage() {
    var runs = data.runs, keys = ['model', 'prompt', 'dataset', 'status'];
    var body = byId('runs').tBodies[0], btn = byId('compare-btn'), chosen = [];
    keys.forEach(function (k) { fillSelect(byId('f-' + k), uniq(runs.map(function (r) { return r[k]; }))); });
    var h = readHash();
    keys.concat(['from', 'to']).forEach(function (k) { if (h[k]) byId('f-' + k).value = h[k]; });
    function render() {
      var f = {};
      keys.concat(['from', 'to']).forEach(function (k) { f[k] = byId('f-' + k).value; });
      writeHash(f);
      body.textContent = '';
      var shown = 0;
      runs.forEach(function (r) {
        var day = (r.created || '').slice(0, 10);
        if (keys.some(function (k) { return f[k] && r[k] !== f[k]; })) return;
        if ((f.from && (!day || day < f.from)) || (f.to && (!day || day > f.to))) return;
        shown++;
        var tr = el('tr', null, r.status === 'damaged' ? 'damaged' : '');
        tr.setAttribute('data-run', r.id);
        var box = el('input'); box.type = 'checkbox'; box.value = r.id; box.disabled = r.status === 'damaged';
        box.checked = chosen.indexOf(r.id) >= 0;
        box.addEventListener('change', function () {
          if (box.checked) chosen.push(r.id); else chosen.splice(chosen.indexOf(r.id), 1);
          btn.disabled = chosen.length < 2 || chosen.length > 4;
        });
        tr.appendChild(el('td')).appendChild(box);
        var ref = cell(tr);
        if (r.status === 'damaged') ref.textContent = r.ref; else ref.appendChild(link(r.page, r.ref));
        cell(tr, (r.created || '').slice(0, 16).replace('T', ' '));
        cell(tr, r.status, 's-' + r.status);
        if (r.status === 'damaged') {
          var why = cell(tr, 'damaged run.json: ' + r.damaged); why.colSpan = 8;
        } else {
          cell(tr, r.model); cell(tr, r.prompt); cell(tr, r.dataset + '/' + r.split);
          cell(tr, r.n, 'num'); cell(tr, fmt(r.accuracy), 'num'); cell(tr, fmt(r.macro_f1), 'num'); cell(tr, r.errors, 'num');
          var notes = cell(tr);
          if (r.cache_hits) notes.appendChild(el('span', 'cached ' + r.cache_hits + '/' + r.n, 'badge cached'));
          if (r.status === 'aborted' || r.status === 'interrupted') notes.appendChild(el('span', r.status, 'badge bad'));
        }
        body.appendChild(tr);
      });
      byId('runs').setAttribute('data-shown', String(shown));
      byId('runs-empty').hidden = shown > 0;
    }
    keys.concat(['from', 'to']).forEach(function (k) { byId('f-' + k).addEventListener('change', render); });
    btn.addEventListener('click', function () {
      location.href = 'compare.html#runs=' + chosen.map(encodeURIComponent).join(',');
    });
    render();
  }

  // ---- One run: its items, filtered, sorted, searched and paged (200 at a time) in the browser.
  function runPage() {
    var items = data.items, size = data.page_size, pageNo = 0;
    var body = byId('items').tBodies[0], c = {
      gold: byId('i-gold'), answer: byId('i-answer'), wrong: byId('i-wrong'), sort: byId('i-sort'), q: byId('i-q')
    };
    fillSelect(c.gold, data.labels);
    fillSelect(c.answer, data.answers);
    var h = readHash();
    c.gold.value = h.gold || ''; c.answer.value = h.answer || ''; c.wrong.checked = h.wrong === '1';
    c.sort.value = h.sort || ''; c.q.value = h.q || ''; pageNo = Math.max(0, (parseInt(h.page, 10) || 1) - 1);
    function matches(it, q) {
      if (!q) return true;
      return it.t.toLowerCase().indexOf(q) >= 0 || it.id.toLowerCase().indexOf(q) >= 0 ||
        it.s.some(function (s) { return s.toLowerCase().indexOf(q) >= 0; });
    }
    function render(resetPage) {
      if (resetPage) pageNo = 0;
      var q = c.q.value.trim().toLowerCase();
      var list = items.filter(function (it) {
        return (!c.gold.value || it.g === c.gold.value) && (!c.answer.value || it.a === c.answer.value) &&
          (!c.wrong.checked || !it.ok) && matches(it, q);
      });
      if (c.sort.value) {
        var dir = c.sort.value === 'prob-asc' ? 1 : -1;
        list = list.slice().sort(function (x, y) {
          var a = x.p === null ? -1 : x.p, b = y.p === null ? -1 : y.p;
          return a === b ? x.i - y.i : dir * (a - b);
        });
      }
      var pages = Math.max(1, Math.ceil(list.length / size));
      pageNo = Math.min(pageNo, pages - 1);
      writeHash({ gold: c.gold.value, answer: c.answer.value, wrong: c.wrong.checked ? '1' : '', sort: c.sort.value,
        q: c.q.value.trim(), page: pageNo ? String(pageNo + 1) : '' });
      body.textContent = '';
      var frag = document.createDocumentFragment();
      list.slice(pageNo * size, (pageNo + 1) * size).forEach(function (it) {
        var tr = el('tr');
        tr.setAttribute('data-item', it.id);
        cell(tr, it.i, 'num'); cell(tr, it.id); cell(tr, it.g); cell(tr, it.a, it.ok ? '' : 'wrong');
        cell(tr, it.p === null ? '–' : fmt(it.p, 2), 'num'); cell(tr, it.ms === null ? '–' : fmt(it.ms, 0), 'num');
        cell(tr, it.t + (it.e ? '\n[' + it.e + ']' : ''), 'text'); cell(tr, it.s.join('; '), 'sig');
        frag.appendChild(tr);
      });
      body.appendChild(frag);
      byId('items').setAttribute('data-shown', String(list.length));
      byId('items').setAttribute('data-page', String(pageNo + 1));
      byId('i-pageinfo').textContent = 'page ' + (pageNo + 1) + ' of ' + pages + ' · ' + list.length + ' of ' + items.length + ' items';
      byId('i-prev').disabled = pageNo === 0; byId('i-next').disabled = pageNo >= pages - 1;
    }
    ['gold', 'answer', 'wrong', 'sort'].forEach(function (k) { c[k].addEventListener('change', function () { render(true); }); });
    c.q.addEventListener('input', function () { render(true); });
    byId('i-prev').addEventListener('click', function () { pageNo--; render(false); });
    byId('i-next').addEventListener('click', function () { pageNo++; render(false); });
    render(false);
    // when the first rows were on screen, from the start of navigation (bench/bench_view.py reads it)
    document.body.setAttribute('data-first-rows-ms', String(Math.round(performance.now())));
  }

  // ---- Compare: paired accuracy, the disagreements, quality against latency and cost.
  function mcnemar(b, c) {  // exact two-sided: a binomial test of min(b, c) in b + c at 1/2
    var n = b + c, k = Math.min(b, c), logTerm = -n * Math.LN2, sum = 0;
    if (n === 0) return 1;
    for (var i = 0; i <= k; i++) {
      if (i > 0) logTerm += Math.log((n - i + 1) / i);
      sum += Math.exp(logTerm);
    }
    return Math.min(1, 2 * sum);
  }
  function scatter(fig, points, xKey, xLabel) {
    var W = 300, H = 200, P = 34, ns = 'http://www.w3.org/2000/svg';
    var pts = points.filter(function (p) { return p[xKey] !== null && p[xKey] !== undefined; });
    var svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('class', 'chart scatter'); svg.setAttribute('width', W); svg.setAttribute('height', H);
    function add(tag, attrs, text) {
      var n = document.createElementNS(ns, tag);
      Object.keys(attrs).forEach(function (k) { n.setAttribute(k, attrs[k]); });
      if (text !== undefined) n.textContent = text;
      svg.appendChild(n); return n;
    }
    add('line', { x1: P, y1: H - P, x2: W - 8, y2: H - P, 'class': 'axis' });
    add('line', { x1: P, y1: H - P, x2: P, y2: 8, 'class': 'axis' });
    add('text', { x: W - 8, y: H - 8, 'text-anchor': 'end' }, xLabel + ' →');
    add('text', { x: 4, y: 14 }, 'accuracy');
    if (pts.length) {
      var xs = pts.map(function (p) { return p[xKey]; }), ys = pts.map(function (p) { return p.acc; });
      var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs), y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
      pts.forEach(function (p) {
        var cx = P + (x1 > x0 ? (p[xKey] - x0) / (x1 - x0) : 0.5) * (W - 8 - P - 50) + 10;  // room on the right for the label
        var cy = H - P - (y1 > y0 ? (p.acc - y0) / (y1 - y0) : 0.5) * (H - P - 28) - 10;
        var dot = add('circle', { cx: cx.toFixed(1), cy: cy.toFixed(1), r: 5 });
        var t = document.createElementNS(ns, 'title'); t.textContent = p.ref + ': ' + fmt(p.acc) + ', ' + p[xKey]; dot.appendChild(t);
        add('text', { x: (cx + 7).toFixed(1), y: (cy + 4).toFixed(1) }, p.ref);
      });
    } else add('text', { x: P + 10, y: H / 2 }, 'not recorded');
    fig.appendChild(svg);
  }
  // The gates' verdicts come computed (smishctl's gate evaluator); this only lays them out. `shared`: the
  // served viewer's answer, judged on the items the chosen runs share; null: the export's, on each run's own.
  function renderGates(sel, nPaired, shared) {
    var table = byId('c-gates');
    if (!table || !data.gates) return;
    var byRun = {};
    ((shared || {}).runs || []).forEach(function (x) { byRun[x.id] = x; });
    var head = table.tHead.rows[0];
    while (head.cells.length > 2) head.deleteCell(2);
    sel.forEach(function (r) { head.appendChild(el('th', r.ref)); });
    var body = table.tBodies[0]; body.textContent = '';
    data.gates.forEach(function (g, k) {
      var tr = el('tr'); cell(tr, g.setting); cell(tr, g.text, 'gate');
      sel.forEach(function (r) {
        var got = (shared ? byRun[r.id] : r.gates) || {}, res = (got.results || [])[k];
        if (!res) { var td = cell(tr, 'not judged', 'verdict fail'); td.appendChild(el('div', got.problem || '', 'why')); return; }
        var c = cell(tr, res.passed ? 'pass' : 'fail', 'verdict ' + (res.passed ? 'pass' : 'fail'));
        c.appendChild(el('div', res.message, 'why'));
      });
      body.appendChild(tr);
    });
    var all = el('tr', null, 'total'); cell(all, 'all gates'); cell(all, '');
    sel.forEach(function (r) {
      var got = (shared ? byRun[r.id] : r.gates) || {}, ok = !got.problem && (got.results || []).every(function (x) { return x.passed; });
      cell(all, ok ? 'pass' : 'fail', 'verdict ' + (ok ? 'pass' : 'fail'));
    });
    body.appendChild(all);
    var partial = sel.filter(function (r) { return r.items.length !== nPaired; });
    var note = byId('c-gates-note');
    table.setAttribute('data-judged', shared ? 'shared' : 'own');
    if (shared) {
      note.hidden = false;
      note.textContent = 'Judged on the ' + shared.n_common_items + ' items the chosen runs share, as smishctl compare does; ' +
        'its verdict: ' + (shared.exit_code === 0 ? 'pass' : 'exit ' + shared.exit_code + ': ' + shared.failures.join('; '));
    } else {
      note.hidden = !partial.length;
      note.textContent = partial.length ? 'Judged on each run\'s own items (' + partial.map(function (r) { return r.ref + ': ' + r.items.length; }).join(', ') +
        '); smishctl compare judges them on the ' + nPaired + ' items the chosen runs share.' : '';
    }
    byId('c-command').textContent = 'smishctl compare ' + sel.map(function (r) { return r.ref; }).join(' ');
  }
  function askGates(sel, nPaired) {
    var key = sel.map(function (r) { return r.id; }).join(','), note = byId('c-gates-note');
    if (!byId('c-gates')) return;
    fetch('/api/gates?runs=' + encodeURIComponent(key)).then(function (r) { return r.json(); }).then(function (got) {
      if (readHash().runs !== key) return;  // the choice changed meanwhile
      if (got.error) { note.hidden = false; note.textContent = 'smishctl compare refuses these runs: ' + got.error; return; }
      renderGates(sel, nPaired, got);
    }, function () { note.hidden = false; note.textContent = 'smishctl view did not answer: the gates above are on each run\'s own items.'; });
  }
  function comparePage() {
    var runs = data.runs.filter(function (r) { return r.status !== 'damaged'; });
    var byRun = {}; runs.forEach(function (r) { byRun[r.id] = r; });
    var list = byId('c-runs'), chosen = (readHash().runs || '').split(',').filter(function (id) { return byRun[id]; });
    runs.forEach(function (r) {
      var li = el('li'), box = el('input'); box.type = 'checkbox'; box.value = r.id; box.checked = chosen.indexOf(r.id) >= 0;
      box.addEventListener('change', function () {
        if (box.checked) chosen.push(r.id); else chosen.splice(chosen.indexOf(r.id), 1);
        render();
      });
      var label = el('label'); label.appendChild(box);
      label.appendChild(document.createTextNode(' ' + r.ref + ' · ' + r.model + ' · ' + r.prompt + ' · ' + r.dataset + '/' + r.split + ' (' + r.n + ')'));
      li.appendChild(label); list.appendChild(li);
    });
    function render() {
      writeHash({ runs: chosen.join(',') });
      var msg = byId('c-message'), result = byId('c-result');
      if (chosen.length < 2 || chosen.length > 4) {
        msg.textContent = 'Choose 2 to 4 runs (' + chosen.length + ' chosen).'; msg.hidden = false; result.hidden = true; return;
      }
      var sel = chosen.map(function (id) { return byRun[id]; });
      var maps = sel.map(function (r) { var m = {}; r.items.forEach(function (x) { m[x[0]] = x; }); return m; });
      var ids = Object.keys(maps[0]).filter(function (id) { return maps.every(function (m) { return m[id] && m[id][1] === maps[0][id][1]; }); });
      if (!ids.length) {
        msg.textContent = 'These runs share no items (' + sel.map(function (r) { return r.ref; }).join(', ') + '): compare runs of the same dataset.';
        msg.hidden = false; result.hidden = true; return;
      }
      msg.hidden = true; result.hidden = false;
      var right = maps.map(function (m) { return ids.map(function (id) { return m[id][2] === m[id][1]; }); });
      var acc = right.map(function (r) { return r.filter(Boolean).length / ids.length; });
      var sum = byId('c-summary').tBodies[0]; sum.textContent = '';
      var points = [];
      sel.forEach(function (r, k) {
        var tr = el('tr'); var td = cell(tr); td.appendChild(link(r.page, r.ref + (k === 0 ? ' (baseline)' : '')));
        cell(tr, r.model); cell(tr, r.prompt); cell(tr, ids.length, 'num'); cell(tr, fmt(acc[k]), 'num');
        cell(tr, fmt(r.macro_f1), 'num'); cell(tr, fmt(r.p50_ms, 0), 'num'); cell(tr, fmt(r.cost_per_1k, 4), 'num');
        sum.appendChild(tr);
        points.push({ ref: r.ref, acc: acc[k], ms: r.p50_ms, cost: r.cost_per_1k });
      });
      ['c-latency', 'c-cost'].forEach(function (id) { var f = byId(id); while (f.lastChild && f.lastChild.tagName !== 'FIGCAPTION') f.removeChild(f.lastChild); });
      scatter(byId('c-latency'), points, 'ms', 'p50 latency (ms)');
      scatter(byId('c-cost'), points, 'cost', '$ per 1k items');
      var paired = byId('c-paired').tBodies[0]; paired.textContent = '';
      for (var k = 1; k < sel.length; k++) {
        var b = 0, c = 0;
        for (var i = 0; i < ids.length; i++) { if (right[0][i] && !right[k][i]) b++; if (!right[0][i] && right[k][i]) c++; }
        var n = ids.length, d = (c - b) / n, se = Math.sqrt(Math.max(0, (b + c) / n - d * d) / n);
        var tr = el('tr'); cell(tr, sel[k].ref);
        cell(tr, (d >= 0 ? '+' : '') + fmt(d), 'num');
        cell(tr, '[' + fmt(d - 1.96 * se) + ', ' + fmt(d + 1.96 * se) + ']', 'num');
        cell(tr, b, 'num'); cell(tr, c, 'num'); cell(tr, mcnemar(b, c).toPrecision(3), 'num');
        paired.appendChild(tr);
      }
      renderGates(sel, ids.length, null);
      if (document.body.getAttribute('data-served') === '1') askGates(sel, ids.length);
      var table = byId('c-dis'), head = table.tHead.rows[0];
      while (head.cells.length > 2) head.deleteCell(2);
      sel.forEach(function (r) { head.appendChild(el('th', r.ref)); });
      head.appendChild(el('th', 'text'));
      var dis = ids.filter(function (id) { return maps.some(function (m) { return m[id][2] !== maps[0][id][2]; }); });
      var body = table.tBodies[0]; body.textContent = '';
      var limit = 500;
      dis.slice(0, limit).forEach(function (id) {
        var tr = el('tr'); tr.setAttribute('data-item', id); cell(tr, id); cell(tr, maps[0][id][1]);
        maps.forEach(function (m) { cell(tr, m[id][2], m[id][2] === m[id][1] ? '' : 'wrong'); });
        cell(tr, data.texts[id] || '', 'text');
        body.appendChild(tr);
      });
      table.setAttribute('data-count', String(dis.length));
      byId('c-dis-count').textContent = dis.length + ' of ' + ids.length + ' paired items' + (dis.length > limit ? ' (first ' + limit + ' shown)' : '');
    }
    render();
  }

  // ---- Prompts: two chosen versions, field by field, as a line diff (the longest common subsequence).
  function lineDiff(a, b) {
    var x = a.split('\n'), y = b.split('\n'), n = x.length, m = y.length, out = [], i, j;
    if (n * m > 250000) {  // too long to align here: all of one, then all of the other
      return x.map(function (t) { return ['-', t]; }).concat(y.map(function (t) { return ['+', t]; }));
    }
    var L = [];
    for (i = 0; i <= n; i++) { L.push(new Array(m + 1).fill(0)); }
    for (i = n - 1; i >= 0; i--) for (j = m - 1; j >= 0; j--) L[i][j] = x[i] === y[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
    for (i = 0, j = 0; i < n || j < m;) {
      if (i < n && j < m && x[i] === y[j]) { out.push([' ', x[i]]); i++; j++; }
      else if (i < n && (j >= m || L[i + 1][j] >= L[i][j + 1])) { out.push(['-', x[i]]); i++; }
      else { out.push(['+', y[j]]); j++; }
    }
    return out;
  }
  function promptsPage() {
    var versions = data.versions, a = byId('d-a'), b = byId('d-b');
    if (!a) return;
    var byVid = {};
    [a, b].forEach(function (sel) {
      versions.forEach(function (v) {
        var o = el('option', v.id + (v.name ? ' (' + v.name + ')' : '') + (v.problem ? ' (damaged)' : ''));
        o.value = v.id; o.disabled = !!v.problem; sel.appendChild(o);
      });
    });
    versions.forEach(function (v) { byVid[v.id] = v; });
    var usable = versions.filter(function (v) { return !v.problem; }), h = readHash();
    a.value = byVid[h.a] ? h.a : (usable.length > 1 ? usable[usable.length - 2].id : '');
    b.value = byVid[h.b] ? h.b : (usable.length ? usable[usable.length - 1].id : '');
    function render() {
      writeHash({ a: a.value, b: b.value });
      var va = byVid[a.value], vb = byVid[b.value], msg = byId('d-message'), body = byId('d-diff').tBodies[0];
      body.textContent = '';
      var bad = [va, vb].filter(function (v) { return !v || v.problem; });
      msg.hidden = !bad.length;
      if (bad.length) { msg.textContent = bad.map(function (v) { return v ? v.id + ' is damaged: ' + v.problem : 'choose two versions'; }).join('; '); return; }
      var changed = 0;
      Object.keys(va.fields).forEach(function (k) {
        var same = va.fields[k] === vb.fields[k], tr = el('tr', null, same ? 'same' : 'changed');
        tr.setAttribute('data-field', k);
        cell(tr, k); cell(tr, same ? 'same' : 'changed', same ? 'muted' : 'wrong');
        var pre = el('pre', null, 'diff');
        (same ? va.fields[k].split('\n').map(function (t) { return [' ', t]; }) : lineDiff(va.fields[k], vb.fields[k])).forEach(function (d) {
          pre.appendChild(el('span', d[0] + ' ' + d[1], d[0] === '+' ? 'ins' : d[0] === '-' ? 'del' : 'eq'));
        });
        cell(tr).appendChild(pre);
        if (!same) changed++;
        body.appendChild(tr);
      });
      byId('d-diff').setAttribute('data-changed', String(changed));
    }
    a.addEventListener('change', render); b.addEventListener('change', render);
    render();
  }

  // ---- One prompt version, served: the exact turns for a typed message, from the server's preview endpoint.
  function promptPage() {
    var form = byId('p-form');
    if (!form) return;  // a static export: the page says it needs `smishctl view`
    var text = byId('p-text'), status = byId('p-status'), turns = byId('p-turns');
    function show(got) {
      turns.textContent = '';
      if (got.error) { status.textContent = got.error; status.className = 'warn'; return; }
      status.className = 'muted';
      status.textContent = got.messages.length + ' turns · ' + got.demos + ' demos' + (got.retrieved ? ' retrieved for this message' : '') +
        (got.fenced ? ' · the SMS is fenced' : '') + (got.guard.length ? ' · guard: ' + got.guard.join(', ') : '');
      got.messages.forEach(function (m) {
        var d = el('div', null, 'turn'); d.appendChild(el('div', m.role, 'role')); d.appendChild(el('pre', m.content));
        turns.appendChild(d);
      });
      turns.setAttribute('data-turns', String(got.messages.length));
    }
    function ask() {
      writeHash({ 'for': text.value });
      status.hidden = false; status.className = 'muted'; status.textContent = 'asking smishctl view…';
      var url = '/api/preview?version=' + encodeURIComponent(form.getAttribute('data-version')) + '&text=' + encodeURIComponent(text.value);
      fetch(url).then(function (r) { return r.json(); }).then(show, function () {
        show({ error: 'smishctl view did not answer: is it still running?' });
      });
    }
    form.addEventListener('submit', function (ev) { ev.preventDefault(); ask(); });
    var h = readHash();
    if (h['for']) { text.value = h['for']; ask(); }
  }

  if (page === 'runs') runsPage();
  else if (page === 'run') runPage();
  else if (page === 'compare') comparePage();
  else if (page === 'prompts') promptsPage();
  else if (page === 'prompt') promptPage();
  document.body.setAttribute('data-ready', '1');
}());
