// attnviz viewer: plain canvas, no library, no network. Each head's data is a script in the
// page's data folder (file:// forbids fetch), loaded when the head is first shown.
  // ---- model view: every layer x head (+ mean) as a thumbnail ----
  const GAP = 3, TL = 30, TT = 16;
  let TS = 40; // thumbnail side: smaller when a layer has many heads
  let thumbs = null; // decoded thumbnails of the section, (layers, heads + 1, tq, tk)
  async function drawThumbs() {
    const s = sec(), g = thumbGrid(s), [tq, tk] = s.thumb_shape, H = s.heads.length;
    if (!thumbs || thumbs.s !== S.s) thumbs = { s: S.s, data: await u16(s.thumbs) };
    const all = document.createElement("canvas");
    all.width = tk * H; all.height = tq * s.layers.length;
    const actx = all.getContext("2d"), im = actx.createImageData(all.width, all.height);
    for (let l = 0; l < s.layers.length; l++) {
      for (let h = 0; h < H; h++) {
        const at = (l * H + h) * tq * tk, [lo, hi] = range(s, l, h);
        paintInto(im.data, all.width, h * tk, l * tq, thumbs.data.subarray(at, at + tq * tk), s, g, table(lo, hi));
      }
    }
    actx.putImageData(im, 0, 0);
    const c = $("thumbs"), o = S.ignoreFirst ? 1 : 0;
    TS = Math.max(14, Math.min(40, Math.floor((400 - TL) / H) - GAP));
    c.width = TL + H * (TS + GAP); c.height = TT + s.layers.length * (TS + GAP);
    const ctx = c.getContext("2d");
    ctx.imageSmoothingEnabled = false;
    ctx.font = "10px sans-serif"; ctx.fillStyle = "#333"; ctx.textAlign = "center";
    s.heads.forEach((h, i) => ctx.fillText(h === "mean" ? "mean" : `h${h}`, TL + i * (TS + GAP) + TS / 2, 11));
    ctx.textAlign = "right";
    for (let l = 0; l < s.layers.length; l++) {
      const y = TT + l * (TS + GAP);
      ctx.fillText(`L${s.layers[l]}`, TL - 4, y + TS / 2 + 3);
      for (let h = 0; h < H; h++) {
        ctx.drawImage(all, h * tk + o, l * tq + o, tk - o, tq - o, TL + h * (TS + GAP), y, TS, TS);
      }
    }
    ctx.strokeStyle = "#d62728"; ctx.lineWidth = 2;
    ctx.strokeRect(TL + S.head * (TS + GAP) - 1, TT + S.layer * (TS + GAP) - 1, TS + 2, TS + 2);
    const box = c.parentElement, top = TT + S.layer * (TS + GAP); // keep the selection in view
    if (top < box.scrollTop || top + TS > box.scrollTop + box.clientHeight) box.scrollTop = top - TT;
  }
  $("thumbs").addEventListener("click", (ev) => {
    const r = ev.target.getBoundingClientRect();
    const h = Math.floor((ev.clientX - r.left - TL) / (TS + GAP)), l = Math.floor((ev.clientY - r.top - TT) / (TS + GAP));
    if (h >= 0 && h < sec().heads.length && l >= 0 && l < sec().layers.length) select(S.s, l, h, ev.timeStamp);
  });

  // ---- the large map: zoom, pan, tooltip ----
  const ML = 90, MT = 90, MS = 600; // left and top margins (labels), map side (CSS pixels)
  const V = { r0: 0, c0: 0, z: 1 }; // first row and column shown, pixels per token
  const canvas = $("map");
  function fit(rows, cols) {
    V.z = Math.min(MS / (rows[1] - rows[0]), MS / (cols[1] - cols[0]));
    V.r0 = rows[0]; V.c0 = cols[0];
  }
  function home() {
    const s = sec(), o = S.ignoreFirst ? 1 : 0, p = s.presets[S.preset];
    if (p) fit([Math.max(o, p.rows[0]), p.rows[1] ?? s.q], [Math.max(o, p.cols[0]), p.cols[1] ?? s.k]);
    else fit([o, s.q], [o, s.k]);
  }
  const minZoom = () => Math.min(MS / sec().q, MS / sec().k);
  function cellAt(x, y) {
    if (x < ML || y < MT || x >= ML + MS || y >= MT + MS) return null;
    const r = Math.floor(V.r0 + (y - MT) / V.z), c = Math.floor(V.c0 + (x - ML) / V.z), o = S.ignoreFirst ? 1 : 0;
    return r >= o && c >= o && r < sec().q && c < sec().k ? [r, c] : null;
  }
  function drawMap() {
    const s = sec(), dpr = window.devicePixelRatio || 1, o = S.ignoreFirst ? 1 : 0;
    canvas.width = (ML + MS) * dpr; canvas.height = (MT + MS) * dpr;
    canvas.style.width = `${ML + MS}px`; canvas.style.height = `${MT + MS}px`;
    const ctx = canvas.getContext("2d");
    ctx.scale(dpr, dpr); ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, ML + MS, MT + MS);
    if (!cur) return;
    const close = MS / V.z <= s.max_cells; // few enough tokens in view for exact cells
    if (s.exact === "zoom" && close && !cur.x && !cur.loading) loadExact(cur);
    const g = cur.ximg ? exactGrid(s) : mapGrid(s), img = cur.ximg || cur.img;
    const X = (c) => ML + (c - V.c0) * V.z, Y = (r) => MT + (r - V.r0) * V.z;
    ctx.save();
    ctx.beginPath();
    ctx.rect(Math.max(ML, X(o)), Math.max(MT, Y(o)), Math.min(ML + MS, X(s.k)) - Math.max(ML, X(o)), Math.min(MT + MS, Y(s.q)) - Math.max(MT, Y(o)));
    ctx.clip();
    ctx.imageSmoothingEnabled = false;
    for (const [pr0, pr1, tr0, tr1] of segments(g[0])) {
      for (const [pc0, pc1, tc0, tc1] of segments(g[1])) {
        ctx.drawImage(img, pc0, pr0, pc1 - pc0, pr1 - pr0, X(tc0), Y(tr0), (tc1 - tc0) * V.z, (tr1 - tr0) * V.z);
      }
    }
    if (cur.top && !cur.ximg && close) { // exact top cells over the faded pooled map
      ctx.fillStyle = "rgba(255,255,255,0.6)"; ctx.fillRect(ML, MT, MS, MS);
      const colours = table(...range(s, S.layer, S.head));
      for (const [cell, m] of cur.top) {
        const r = Math.floor(cell / s.k), c = cell % s.k;
        ctx.fillStyle = `rgb(${colours[m * 3]},${colours[m * 3 + 1]},${colours[m * 3 + 2]})`;
        ctx.fillRect(X(c), Y(r), V.z, V.z);
      }
    }
    const cut = IDX.segments.source_end ?? IDX.segments.question_end;
    if (cut !== undefined && s.name === "self") { // where generation (or the context) starts
      ctx.strokeStyle = "rgba(255,255,255,0.9)"; ctx.setLineDash([4, 3]);
      ctx.beginPath(); ctx.moveTo(X(cut), MT); ctx.lineTo(X(cut), MT + MS); ctx.moveTo(ML, Y(cut)); ctx.lineTo(ML + MS, Y(cut)); ctx.stroke();
    }
    ctx.restore();
    labels(ctx, s, X, Y, o);
    drawColorbar(s);
  }
  function labels(ctx, s, X, Y, o) {
    ctx.fillStyle = "#333"; ctx.font = "10px sans-serif";
    const axes = [[IDX.tokens[s.rows], s.q, V.r0, Y, true], [IDX.tokens[s.cols], s.k, V.c0, X, false]];
    for (const [tokens, n, first, at, isRow] of axes) {
      const step = V.z >= 9 ? 1 : Math.ceil(14 / V.z), start = Math.max(o, Math.floor(first));
      for (let t = start - (start % step); t < n; t += step) {
        const p = at(t + 0.5);
        if (t < o || p < (isRow ? MT : ML)) continue;
        if (p > (isRow ? MT : ML) + MS) break;
        const text = (step === 1 ? show(tokens.text[t]).slice(0, 12) : `${t}`);
        ctx.font = tokens.special[t] && step === 1 ? "bold 10px sans-serif" : "10px sans-serif";
        if (isRow) { ctx.textAlign = "right"; ctx.fillText(text, ML - 4, p + 3); } else {
          ctx.save(); ctx.translate(p + 3, MT - 4); ctx.rotate(-Math.PI / 2); ctx.textAlign = "left"; ctx.fillText(text, 0, 0); ctx.restore();
        }
      }
    }
  }
  function drawColorbar(s) {
    const c = $("colorbar"), [lo, hi] = range(s, S.layer, S.head), colours = table(lo, hi);
    c.width = 60; c.height = MT + MS;
    const ctx = c.getContext("2d");
    for (let y = 0; y < MS; y++) {
      const m = Math.round(Math.min(1000, Math.max(0, (hi - (y / MS) * (hi - lo)) * 1000))) * 3;
      ctx.fillStyle = `rgb(${colours[m]},${colours[m + 1]},${colours[m + 2]})`; ctx.fillRect(0, MT + y, 14, 1);
    }
    ctx.fillStyle = "#333"; ctx.font = "10px sans-serif";
    ctx.fillText(hi.toFixed(3), 17, MT + 8); ctx.fillText(lo.toFixed(3), 17, MT + MS);
  }
  const show = (t) => t.replace(/^(Ġ|▁)/, " ").replace(/Ċ/g, "↵").replace(/Ġ/g, " ");
  const weightAt = (r, c) => { // thousandths, and whether exact
    const s = sec();
    if (cur.x || s.exact === "all") return [(cur.x || cur.m)[r * s.k + c], true];
    const hit = cur.top && cur.top.get(r * s.k + c);
    if (hit !== undefined) return [hit, true];
    const m = S.ignoreFirst ? cur.m : cur.merged;
    const g = mapGrid(s);
    return [m[blockOf(r, g[0]) * cells(g[1]) + blockOf(c, g[1])], false];
  };
  function tooltip(ev) {
    const rect = canvas.getBoundingClientRect(), cell = cur && cellAt(ev.clientX - rect.left, ev.clientY - rect.top);
    const tip = $("tip");
    if (!cell) { tip.style.display = "none"; return; }
    const s = sec(), [r, c] = cell, rows = IDX.tokens[s.rows], cols = IDX.tokens[s.cols];
    const [m, exact] = weightAt(r, c);
    const name = (tokens, i) => `#${i} '${show(tokens.text[i])}'`;
    let text;
    if (s.causal && c > r + s.k - s.q) text = `query ${name(rows, r)}\nkey   ${name(cols, c)}\nmasked (causal)`;
    else if (exact) text = `query ${name(rows, r)}\nkey   ${name(cols, c)}\nweight ${(m / 1000).toFixed(3)}`;
    else {
      const [a, b] = shownBlock(r, mapGrid(s)[0]), [d, e] = shownBlock(c, mapGrid(s)[1]);
      const span = (tokens, x, y) => (y - x === 1 ? name(tokens, x) : `#${x}-#${y - 1} '${show(tokens.text[x])}' … '${show(tokens.text[y - 1])}'`);
      text = `queries ${span(rows, a, b)}\nkeys    ${span(cols, d, e)}\nmax weight ${(m / 1000).toFixed(3)} (pooled cell of ${b - a} x ${e - d} tokens; zoom in for ${s.exact === "zoom" ? "exact cells" : "the exact top cells"})`;
    }
    tip.textContent = text; tip.style.display = "block";
    tip.style.left = `${ev.clientX + 14}px`; tip.style.top = `${ev.clientY + 14}px`;
    api.timing.hover = performance.now() - ev.timeStamp;
  }
  let drag = null;
  canvas.addEventListener("mousedown", (ev) => { drag = [ev.clientX, ev.clientY]; canvas.classList.add("panning"); });
  window.addEventListener("mouseup", () => { drag = null; canvas.classList.remove("panning"); });
  canvas.addEventListener("mousemove", (ev) => {
    if (drag) {
      V.c0 -= (ev.clientX - drag[0]) / V.z; V.r0 -= (ev.clientY - drag[1]) / V.z;
      drag = [ev.clientX, ev.clientY]; drawMap();
    }
    tooltip(ev);
  });
  canvas.addEventListener("mouseleave", () => { $("tip").style.display = "none"; });
  function zoom(factor, x, y) {
    const z = Math.min(80, Math.max(minZoom(), V.z * factor));
    V.c0 += (x - ML) / V.z - (x - ML) / z; V.r0 += (y - MT) / V.z - (y - MT) / z; V.z = z;
    drawMap();
  }
  canvas.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const rect = canvas.getBoundingClientRect();
    zoom(ev.deltaY < 0 ? 1.25 : 0.8, ev.clientX - rect.left, ev.clientY - rect.top);
  }, { passive: false });
  canvas.addEventListener("dblclick", () => { home(); drawMap(); });
  $("zoom-in").onclick = () => zoom(2, ML + MS / 2, MT + MS / 2);
  $("zoom-out").onclick = () => zoom(0.5, ML + MS / 2, MT + MS / 2);
  $("zoom-reset").onclick = () => { home(); drawMap(); };

  // ---- data of one head ----
  async function loadHead(s, layer, head) {
    const key = `${s.name}_${layer}_${head}`;
    if (!cache.has(key)) {
      const p = await load(key), entry = { key, m: await u16(p.m) };
      entry.merged = s.exact !== "all" ? mergeFirst(entry.m, mapGrid(s)) : entry.m;
      if (p.ti) {
        const at = await i32(p.ti), v = await u16(p.tv);
        entry.top = new Map(Array.from(at, (cell, i) => [cell, v[i]]));
      }
      cache.set(key, entry);
      if (cache.size > 12) cache.delete(cache.keys().next().value);
    }
    return cache.get(key);
  }
  async function loadExact(entry) {
    entry.loading = true;
    try {
      const p = await load(`${entry.key}_x`);
      entry.x = await u16(p.x);
      if (cur === entry) { paintHead(); drawMap(); tokenShades(); }
    } catch (err) { fail(err); }
  }
  function paintHead() {
    const s = sec(), colours = table(...range(s, S.layer, S.head));
    cur.img = image(S.ignoreFirst ? cur.m : cur.merged, s, mapGrid(s), colours);
    cur.ximg = cur.x ? image(cur.x, s, exactGrid(s), colours) : null;
  }
  async function select(s, layer, head, since) {
    const t0 = since ?? performance.now(), sectionChanged = s !== S.s;
    Object.assign(S, { s, layer, head });
    if (sectionChanged) { S.preset = -1; S.selected = null; fillSelects(); tokenPanels(); home(); }
    $("section").value = s; $("layer").value = layer; $("head").value = head;
    cur = await loadHead(sec(), layer, head);
    paintHead();
    const sx = sec();
    $("map-title").textContent = `${sx.title}: layer ${sx.layers[layer]}, ${sx.heads[head] === "mean" ? "head mean" : `head ${sx.heads[head]}`}`;
    $("map-note").textContent = sx.reduced
      ? `${sx.reduced}. Max-pooled to cells of up to ${sx.factor} x ${sx.factor} tokens; zoom in to see the exact top cells.`
      : sx.factor > 1
      ? `${sx.q} x ${sx.k} tokens, max-pooled to cells of ${sx.factor} x ${sx.factor} tokens; ${sx.exact === "zoom" ? "zoom in for exact cells" : "zoom in to see the exact top cells"}.`
      : `${sx.q} x ${sx.k} tokens, exact.`;
    drawMap(); await drawThumbs(); tokenShades();
    api.timing.switch = performance.now() - t0;
  }

  // ---- token view ----
  function tokenPanels() {
    const s = sec(), box = $("token-panels");
    box.textContent = "";
    const axes = s.rows === s.cols ? [["q", s.rows, "tokens"]] : [["q", s.rows, "queries (decoder)"], ["k", s.cols, "keys (encoder)"]];
    for (const [axis, key, title] of axes) {
      const h = document.createElement("h3"); h.textContent = title; box.appendChild(h);
      const div = document.createElement("div"); div.className = "tokens"; div.dataset.axis = axis;
      IDX.tokens[key].text.forEach((t, i) => {
        const span = document.createElement("span");
        span.className = `tok${IDX.tokens[key].special[i] ? " special" : ""}`;
        span.textContent = show(t); span.dataset.i = i; span.dataset.axis = axis;
        div.appendChild(span);
      });
      box.appendChild(div);
    }
  }
  $("token-panels").addEventListener("click", (ev) => {
    const t = ev.target.closest(".tok");
    if (!t) return;
    const two = sec().rows !== sec().cols, i = Number(t.dataset.i);
    const row = two ? t.dataset.axis === "q" : S.direction === "to"; // a query: what it attends to
    S.selected = { row, i };
    tokenShades();
  });
  function tokenShades() {
    const s = sec(), box = $("token-panels"), o = S.ignoreFirst ? 1 : 0;
    box.querySelectorAll(".tok").forEach((el) => { el.style.background = ""; el.classList.remove("selected", "shaded"); delete el.dataset.w; });
    if (!S.selected || !cur) return;
    const { row, i } = S.selected, two = s.rows !== s.cols;
    const from = two ? (row ? "q" : "k") : "q", to = two ? (row ? "k" : "q") : "q";
    box.querySelector(`.tok[data-axis="${from}"][data-i="${i}"]`).classList.add("selected");
    const targets = box.querySelectorAll(`.tok[data-axis="${to}"]`), weights = [];
    targets.forEach((el, j) => weights.push(j < o || i < o ? 0 : (row ? weightAt(i, j) : weightAt(j, i))[0]));
    const top = Math.max(1, ...weights);
    targets.forEach((el, j) => {
      el.dataset.w = (weights[j] / 1000).toFixed(3);
      if (weights[j] > 0) { el.classList.add("shaded"); el.style.background = `rgba(255,127,14,${(0.9 * weights[j]) / top})`; }
    });
  }

  // ---- controls ----
  const option = (sel, value, text) => { const o = document.createElement("option"); o.value = value; o.textContent = text; sel.appendChild(o); };
  function fillSelects() {
    const s = sec();
    for (const id of ["layer", "head", "preset"]) $(id).textContent = "";
    s.layers.forEach((l, i) => option($("layer"), i, `${l}`));
    s.heads.forEach((h, i) => option($("head"), i, h));
    option($("preset"), -1, "whole map");
    s.presets.forEach((p, i) => option($("preset"), i, p.name));
    $("preset").disabled = !s.presets.length;
  }
  IDX.sections.forEach((s, i) => option($("section"), i, s.title));
  Object.keys(LUTS).forEach((name) => option($("cmap"), name, name));
  $("cmap").value = S.cmap; $("gamma").value = S.gamma; $("scale").value = S.scale;
  $("vmin").value = S.vmin; $("vmax").value = S.vmax; $("ignore-first").checked = S.ignoreFirst;
  const restyle = () => {
    Object.assign(S, { cmap: $("cmap").value, scale: $("scale").value, ignoreFirst: $("ignore-first").checked });
    S.gamma = Number($("gamma").value) > 0 ? Number($("gamma").value) : 1;
    S.vmin = Number($("vmin").value); S.vmax = Number($("vmax").value);
    $("fixed-range").style.display = S.scale === "fixed" ? "" : "none";
    if (cur) paintHead();
    home(); drawMap(); drawThumbs(); tokenShades();
  };
  for (const id of ["cmap", "gamma", "scale", "vmin", "vmax", "ignore-first"]) $(id).addEventListener("change", restyle);
  $("section").onchange = (ev) => select(Number($("section").value), 0, 0, ev.timeStamp);
  $("layer").onchange = (ev) => select(S.s, Number($("layer").value), S.head, ev.timeStamp);
  $("head").onchange = (ev) => select(S.s, S.layer, Number($("head").value), ev.timeStamp);
  $("preset").onchange = () => { S.preset = Number($("preset").value); home(); drawMap(); };
  $("direction").onchange = () => { S.direction = $("direction").value; S.selected = null; tokenShades(); };

  function fail(err) {
    $("error").textContent = String(err.message || err);
    console.error(err);
  }
  // For tests and benchmarks: where a cell is on screen; select by index.
  api.cellCenter = (r, c) => {
    const rect = canvas.getBoundingClientRect();
    return { x: rect.left + ML + (c + 0.5 - V.c0) * V.z, y: rect.top + MT + (r + 0.5 - V.r0) * V.z };
  };
  api.thumbCenter = (layer, head) => { // scrolled into view first, as a user would
    const box = $("thumbs").parentElement;
    box.scrollTop = TT + layer * (TS + GAP) - box.clientHeight / 2;
    box.scrollLeft = TL + head * (TS + GAP) - box.clientWidth / 2;
    const rect = $("thumbs").getBoundingClientRect();
    return { x: rect.left + TL + head * (TS + GAP) + TS / 2, y: rect.top + TT + layer * (TS + GAP) + TS / 2 };
  };
  api.zoomTo = (rows, cols) => { fit(rows, cols); drawMap(); };
  api.select = (s, layer, head) => select(s, layer, head);
  api.state = () => ({ section: sec().name, layer: S.layer, head: S.head, zoom: V.z, exact: Boolean(cur && (cur.x || sec().exact === "all")) });

  async function start() {
    fillSelects(); tokenPanels(); home();
    $("fixed-range").style.display = S.scale === "fixed" ? "" : "none";
    await select(0, 0, 0);
    api.ready = performance.now();
  }
  if (document.readyState === "loading") { // inline data (a notebook) follows this script
    document.addEventListener("DOMContentLoaded", () => start().catch(fail));
  } else start().catch(fail);
