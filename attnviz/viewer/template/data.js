// The viewer's data: head scripts loaded on demand, decoding, pooled geometry, colours.
// (Concatenated with viewer.js into one function by attnviz/viewer/page.py.)
  const IDX = JSON.parse(document.getElementById("attnviz-index").textContent);
  const $ = (id) => document.getElementById(id);
  const store = new Map(); // file stem -> payload (base64 strings)
  const waiting = new Map(); // file stem -> callbacks
  const api = (window.attnviz = { loaded: [], ready: 0, timing: {} });
  api.put = (stem, payload) => {
    store.set(stem, payload);
    (waiting.get(stem) || []).forEach((done) => done());
    waiting.delete(stem);
  };

  function load(stem) {
    if (store.has(stem)) return Promise.resolve(store.get(stem));
    return new Promise((resolve, reject) => {
      const first = !waiting.has(stem);
      if (first) waiting.set(stem, []);
      waiting.get(stem).push(() => resolve(store.get(stem)));
      if (!first) return;
      if (!IDX.data_dir) return reject(new Error(`attnviz: no data for ${stem}`));
      const script = document.createElement("script");
      script.src = `${IDX.data_dir}/${stem}.js`;
      script.onerror = () => reject(new Error(`attnviz: cannot load ${script.src}`));
      api.loaded.push(script.src);
      document.head.appendChild(script);
    });
  }

  async function inflate(b64) {
    const text = atob(b64);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }
  async function u16(b64) { // thousandths: high-byte plane, then low-byte plane
    const b = await inflate(b64);
    const n = b.length >> 1;
    const out = new Uint16Array(n);
    for (let i = 0; i < n; i++) out[i] = (b[i] << 8) | b[n + i];
    return out;
  }
  async function i32(b64) {
    const b = await inflate(b64);
    return new Int32Array(b.buffer, b.byteOffset, b.length >> 2);
  }

  // Pooled cells as token edges (cell b: tokens e[b]..e[b + 1]): the first token alone, then
  // blocks of f tokens (attnviz.viewer.data.pool_max), or a reduced record's own cells.
  function uniformEdges(n, f) {
    const e = [0];
    for (let t = 1; t < n; t += f) e.push(t);
    e.push(n);
    return e;
  }
  const cells = (e) => e.length - 1;
  function blockOf(t, e) { // the cell holding token t
    let lo = 0, hi = e.length - 2;
    while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (e[mid] <= t) lo = mid; else hi = mid - 1; }
    return lo;
  }
  const spanOf = (b, e) => [e[b], e[b + 1]];
  const grid = (s, key, edges, f) => // [row edges, column edges] of a section's map, cached
    (s[key] ??= edges ? edges : [uniformEdges(s.q, f), uniformEdges(s.k, f)]);
  const mapGrid = (s) => grid(s, "_map", s.edges, s.factor);
  const thumbGrid = (s) => grid(s, "_thumb", s.thumb_edges, s.thumb_factor);
  const exactGrid = (s) => grid(s, "_exact", null, 1);
  // Unless the first token is ignored, it joins the first block on screen (as in the figures'
  // pooling: a sink column one token wide would vanish at overview zoom).
  function mergeFirst(m, g) {
    const rows = cells(g[0]), cols = cells(g[1]), out = m.slice();
    if (rows > 1) for (let j = 0; j < cols; j++) out[cols + j] = out[j] = Math.max(out[j], out[cols + j]);
    if (cols > 1) for (let i = 0; i < rows; i++) out[i * cols + 1] = out[i * cols] = Math.max(out[i * cols], out[i * cols + 1]);
    return out;
  }
  const shownBlock = (t, e) => { // tokens of the pooled cell shown at token t
    const span = spanOf(blockOf(t, e), e);
    return S.ignoreFirst || span[0] > 1 ? span : [0, e[Math.min(2, e.length - 1)]];
  };
  function segments(e) { // runs of cells of one width: [first cell, end cell, first token, end token]
    const out = [];
    for (let b = 0; b < cells(e);) {
      let c = b + 1;
      while (c < cells(e) && e[c + 1] - e[c] === e[b + 1] - e[b]) c++;
      out.push([b, c, e[b], e[c]]);
      b = c;
    }
    return out;
  }

  const LUTS = {};
  for (const [name, hex] of Object.entries(IDX.cmaps)) {
    LUTS[name] = Uint8Array.from(hex.match(/../g), (h) => parseInt(h, 16));
  }
  const S = {
    s: 0, layer: 0, head: 0, preset: -1, direction: "to", selected: null,
    cmap: IDX.options.cmap, gamma: IDX.options.gamma, scale: IDX.options.scale,
    vmin: IDX.options.vmin, vmax: IDX.options.vmax, ignoreFirst: IDX.options.ignore_first_token,
  };
  const sec = () => IDX.sections[S.s];
  let cur = null; // the head shown: {key, m (pooled or exact thousandths), x (exact), top, img, ximg}
  const cache = new Map(); // recent heads' decoded data (a few)

  function range(s, layer, head) {
    if (S.scale === "fixed") return [S.vmin, S.vmax];
    const j = S.ignoreFirst ? 2 : 0;
    if (S.scale === "panel") return s.ranges[layer][head].slice(j, j + 2);
    let lo = Infinity, hi = -Infinity;
    for (const heads of s.ranges) for (const r of heads) { lo = Math.min(lo, r[j]); hi = Math.max(hi, r[j + 1]); }
    return [lo, hi];
  }
  function table(lo, hi) { // colour of each thousandth, as the figures' (power) norm
    const lut = LUTS[S.cmap], out = new Uint8ClampedArray(1001 * 3), span = hi > lo ? hi - lo : 1e-9;
    for (let m = 0; m <= 1000; m++) {
      const x = Math.pow(Math.min(1, Math.max(0, (m / 1000 - lo) / span)), S.gamma);
      const i = Math.round(x * 255) * 3;
      out[m * 3] = lut[i]; out[m * 3 + 1] = lut[i + 1]; out[m * 3 + 2] = lut[i + 2];
    }
    return out;
  }
  // One map (cells of grid g) into RGBA pixels at (x0, y0) of an image `width` wide.
  function paintInto(px, width, x0, y0, data, s, g, colours) {
    const rows = cells(g[0]), cols = cells(g[1]), shift = s.k - s.q;
    for (let i = 0; i < rows; i++) {
      const last = g[0][i + 1] - 1;
      for (let j = 0; j < cols; j++) {
        const o = ((y0 + i) * width + x0 + j) * 4;
        if (s.causal && g[1][j] > last + shift) {
          px[o] = px[o + 1] = px[o + 2] = 255;
        } else {
          const m = data[i * cols + j] * 3;
          px[o] = colours[m]; px[o + 1] = colours[m + 1]; px[o + 2] = colours[m + 2];
        }
        px[o + 3] = 255;
      }
    }
  }
  function image(data, s, g, colours) {
    const canvas = document.createElement("canvas");
    canvas.width = cells(g[1]); canvas.height = cells(g[0]);
    const ctx = canvas.getContext("2d"), im = ctx.createImageData(canvas.width, canvas.height);
    paintInto(im.data, canvas.width, 0, 0, data, s, g, colours);
    ctx.putImageData(im, 0, 0);
    return canvas;
  }

