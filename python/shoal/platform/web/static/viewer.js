// The dataset viewer's grid. The server sends a page plan (which chunk holds each sample, or a
// preview it made); this script reads the chunk bytes (straight from the bucket through
// presigned URLs, or from the platform for a local root), parses Deep Lake v3 chunk headers
// (version, shape encoder, byte positions), cuts out each sample and hands image bytes to the
// browser's own decoder. Everything shown is set as text (never as HTML).
"use strict";

(() => {
  const root = document.getElementById("viewer");
  const grid = document.getElementById("grid");
  if (!root || !grid) return;
  const status = document.getElementById("grid-status");
  const corsHelp = document.getElementById("cors-help");
  const range = document.getElementById("range");
  const prev = document.getElementById("prev");
  const next = document.getElementById("next");
  const goto = document.getElementById("goto");
  const total = Number(root.dataset.total);
  const pageSize = Number(root.dataset.page);
  let start = 0;
  let objectUrls = [];

  class CorsError extends Error {}

  const ITEM = { uint8: 1, int8: 1, bool: 1, uint16: 2, int16: 2, float16: 2, uint32: 4,
    int32: 4, float32: 4, uint64: 8, int64: 8, float64: 8 };
  const IMAGE_TYPES = { jpeg: "image/jpeg", jpg: "image/jpeg", png: "image/png",
    webp: "image/webp", gif: "image/gif", bmp: "image/bmp", avif: "image/avif" };

  // -- reading and parsing chunks --------------------------------------------------------
  async function fetchChunk(url) {
    const own = url.startsWith("/");
    let resp;
    try {
      resp = await fetch(url, { credentials: own ? "same-origin" : "omit", mode: "cors" });
    } catch (err) {
      // A cross-origin read the browser refused: the bucket's CORS rules (or a network error,
      // which looks the same to a page).
      if (!own) throw new CorsError(String(err));
      throw err;
    }
    if (!resp.ok) throw new Error(`reading a chunk failed: HTTP ${resp.status}`);
    return new Uint8Array(await resp.arrayBuffer());
  }

  function parseChunk(buf) {
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let o = 1 + buf[0]; // version string
    const rows = dv.getInt32(o, true);
    const cols = dv.getInt32(o + 4, true);
    o += 8;
    const shapes = [];
    for (let r = 0; r < rows && cols > 0; r++) {
      const row = [];
      for (let c = 0; c < cols; c++) row.push(dv.getUint32(o + 4 * (r * cols + c), true));
      shapes.push(row);
    }
    o += 4 * Math.max(rows * cols, 0);
    const nb = dv.getUint32(o, true);
    o += 4;
    const positions = [];
    for (let r = 0; r < nb; r++) {
      positions.push([0, 1, 2].map((c) => dv.getUint32(o + 4 * (3 * r + c), true)));
    }
    o += 12 * nb;
    return { buf, shapes, positions, data: o };
  }

  function shapeOf(chunk, i, t) {
    if (t.fixed_shape) return t.fixed_shape;
    for (const row of chunk.shapes) if (row[row.length - 1] >= i) return row.slice(0, -1);
    return [];
  }

  function bytesOf(chunk, i, t) {
    const { buf, data } = chunk;
    if (t.fixed_shape && !t.compression && !t.text_like) {
      const n = t.fixed_shape.reduce((a, b) => a * b, 1) * (ITEM[t.dtype] || 1);
      return buf.subarray(data + i * n, data + (i + 1) * n);
    }
    if (chunk.positions.length === 0) return buf.subarray(data);
    let first = 0;
    for (const [num, startByte, last] of chunk.positions) {
      if (last >= i) {
        const s = data + startByte + (i - first) * num;
        return buf.subarray(s, s + num);
      }
      first = last + 1;
    }
    return buf.subarray(0, 0);
  }

  function numbers(bytes, dtype) {
    const copy = bytes.slice().buffer; // aligned
    switch (dtype) {
      case "uint8": case "bool": return Array.from(new Uint8Array(copy));
      case "int8": return Array.from(new Int8Array(copy));
      case "uint16": return Array.from(new Uint16Array(copy));
      case "int16": return Array.from(new Int16Array(copy));
      case "uint32": return Array.from(new Uint32Array(copy));
      case "int32": return Array.from(new Int32Array(copy));
      case "float32": return Array.from(new Float32Array(copy));
      case "float64": return Array.from(new Float64Array(copy));
      case "int64": return Array.from(new BigInt64Array(copy), Number);
      case "uint64": return Array.from(new BigUint64Array(copy), Number);
      default: return null;
    }
  }

  // -- what a cell shows -----------------------------------------------------------------
  // A decoded cell: {image: Blob | {rgba, w, h}} or {text} or {labels} or {boxes} or {array}.
  function decode(t, cell, chunks) {
    if (cell === null || cell === undefined) return null;
    if (!Array.isArray(cell)) return cell; // a preview the server made
    const chunk = chunks[cell[0]];
    const i = cell[1];
    const bytes = bytesOf(chunk, i, t);
    const shape = shapeOf(chunk, i, t);
    if (bytes.length === 0) return { text: "(empty)" };
    if (t.compression) {
      const type = IMAGE_TYPES[t.compression];
      if (type) return { blob: new Blob([bytes], { type }), shape };
      return { array: { shape, note: `${t.compression}-compressed` } };
    }
    if (t.text_like) return { text: new TextDecoder().decode(bytes) };
    const values = numbers(bytes, t.dtype);
    if (values === null) return { array: { shape, note: t.dtype || "?" } };
    if (t.htype === "class_label") {
      return { labels: values.map((v) => t.class_names[v] ?? String(v)) };
    }
    if (t.htype === "bbox") {
      const boxes = [];
      for (let k = 0; k + 3 < values.length; k += 4) boxes.push(values.slice(k, k + 4));
      return { boxes, values };
    }
    if (t.htype === "image" && t.dtype === "uint8" && (shape.length === 3 || shape.length === 2)) {
      return { raw: { values, shape } };
    }
    return { array: { shape, values: values.slice(0, 12), more: values.length > 12 } };
  }

  function boxRect(box, coords, w, h) {
    let [a, b, c, d] = box;
    if (coords && coords.type === "fractional") { a *= w; b *= h; c *= w; d *= h; }
    const mode = (coords && coords.mode) || "LTWH";
    if (mode === "LTRB") return [a, b, c - a, d - b];
    if (mode === "CCWH") return [a - c / 2, b - d / 2, c, d];
    return [a, b, c, d];
  }

  async function drawImage(pic, value, overlays) {
    let bitmap = null;
    if (value.blob) {
      if (!overlays.length) {
        const img = document.createElement("img");
        const url = URL.createObjectURL(value.blob);
        objectUrls.push(url);
        img.src = url;
        img.alt = "";
        pic.append(img);
        await img.decode();
        return;
      }
      bitmap = await createImageBitmap(value.blob);
    }
    const canvas = document.createElement("canvas");
    const g = canvas.getContext("2d");
    if (bitmap) {
      canvas.width = bitmap.width;
      canvas.height = bitmap.height;
      g.drawImage(bitmap, 0, 0);
    } else if (value.raw) {
      const [h, w, ch = 1] = value.raw.shape;
      canvas.width = w;
      canvas.height = h;
      const img = g.createImageData(w, h);
      const v = value.raw.values;
      for (let p = 0; p < w * h; p++) {
        for (let k = 0; k < 3; k++) img.data[4 * p + k] = v[p * ch + (ch >= 3 ? k : 0)];
        img.data[4 * p + 3] = ch === 4 ? v[p * ch + 3] : 255;
      }
      g.putImageData(img, 0, 0);
    }
    g.lineWidth = Math.max(1, canvas.width / 100);
    for (const [boxes, coords] of overlays) {
      g.strokeStyle = "#ff2d55";
      for (const box of boxes) g.strokeRect(...boxRect(box, coords, canvas.width, canvas.height));
    }
    canvas.setAttribute("role", "img");
    pic.append(canvas);
  }

  function field(tile, name, text, cls) {
    const div = document.createElement("div");
    div.className = "field" + (cls ? " " + cls : "");
    const b = document.createElement("b");
    b.textContent = name + ": ";
    div.append(b, document.createTextNode(text));
    tile.append(div);
  }

  function describe(v) {
    if (v.text !== undefined) return v.text;
    if (v.labels) return v.labels.join(", ");
    if (v.note && !v.array) return v.note;
    const a = v.array || v;
    const vals = a.values ? " [" + a.values.map((x) => +Number(x).toPrecision(4)).join(", ") + (a.more ? ", …" : "") + "]" : "";
    return `shape (${(a.shape || []).join(", ")})${a.note ? " " + a.note : ""}${vals}`;
  }

  async function renderTile(idx, plan, decoded) {
    const tile = document.createElement("figure");
    tile.className = "tile";
    tile.dataset.index = String(idx);
    const label = document.createElement("div");
    label.className = "idx";
    label.textContent = "#" + idx;
    tile.append(label);
    const tensors = plan.tensors;
    const imageAt = tensors.findIndex((t, k) => t.htype === "image" && decoded[k] && (decoded[k].blob || decoded[k].raw || decoded[k].image));
    const overlays = [];
    tensors.forEach((t, k) => {
      if (t.htype === "bbox" && decoded[k] && decoded[k].boxes) overlays.push([decoded[k].boxes, t.coords]);
    });
    const jobs = [];
    if (imageAt >= 0) {
      const pic = document.createElement("div");
      pic.className = "pic";
      tile.append(pic);
      const v = decoded[imageAt];
      if (v.image) {
        const img = document.createElement("img");
        img.src = v.image; // a data: URL the server made
        img.alt = "";
        pic.append(img);
        jobs.push(img.decode());
      } else {
        jobs.push(drawImage(pic, v, overlays));
      }
    }
    tensors.forEach((t, k) => {
      const v = decoded[k];
      if (k === imageAt || v === null || v === undefined) return;
      if (v.image) { field(tile, t.name, "image (see first image tensor)"); return; }
      if (v.blob || v.raw) { field(tile, t.name, `image (${(v.shape || v.raw.shape).join("×")})`); return; }
      if (v.boxes) { field(tile, t.name, v.boxes.map((b) => "[" + b.map((x) => +x.toPrecision(4)).join(", ") + "]").join(" ")); return; }
      field(tile, t.name, describe(v));
    });
    grid.append(tile);
    await Promise.all(jobs.map((j) => j.catch((err) => field(tile, "error", String(err), "bad"))));
  }

  // -- pages -----------------------------------------------------------------------------
  async function load(from) {
    status.hidden = false;
    status.textContent = "Loading samples…";
    root.dataset.state = "loading";
    const resp = await fetch(root.dataset.samples + "?start=" + from, { credentials: "same-origin" });
    if (!resp.ok) {
      let msg = `HTTP ${resp.status}`;
      try { msg = (await resp.json()).description || msg; } catch (e) { /* not JSON */ }
      throw new Error(msg);
    }
    const plan = await resp.json();
    const needed = new Set();
    plan.tensors.forEach((t) => {
      if (t.mode === "chunk") for (const c of plan.cells[t.name]) if (Array.isArray(c)) needed.add(c[0]);
    });
    const chunks = {};
    try {
      await Promise.all([...needed].map(async (k) => { chunks[k] = parseChunk(await fetchChunk(plan.chunks[k])); }));
    } catch (err) {
      if (err instanceof CorsError) {
        grid.replaceChildren();
        if (corsHelp) corsHelp.hidden = false;
        status.textContent = "The samples could not be read from the bucket (see above).";
        root.dataset.state = "cors";
        return;
      }
      throw err;
    }
    if (corsHelp) corsHelp.hidden = true;
    for (const url of objectUrls) URL.revokeObjectURL(url);
    objectUrls = [];
    grid.replaceChildren();
    start = plan.start;
    const jobs = [];
    for (let j = 0; j < plan.stop - plan.start; j++) {
      const decoded = plan.tensors.map((t) => decode(t, plan.cells[t.name][j], chunks));
      jobs.push(renderTile(plan.start + j, plan, decoded));
    }
    await Promise.all(jobs);
    range.textContent = `Samples ${plan.start} to ${plan.stop - 1} of ${plan.total}`;
    prev.disabled = plan.start === 0;
    next.disabled = plan.stop >= plan.total;
    status.hidden = true;
    root.dataset.state = "ready";
  }

  function go(from) {
    load(Math.max(0, Math.min(from, total - 1))).catch((err) => {
      status.hidden = false;
      status.textContent = "Could not show the samples: " + err.message;
      root.dataset.state = "error";
    });
  }

  prev.addEventListener("click", () => go(start - pageSize));
  next.addEventListener("click", () => go(start + pageSize));
  goto.addEventListener("change", () => {
    const n = Number(goto.value);
    if (Number.isInteger(n) && n >= 0) go(n - (n % pageSize));
  });
  go(0);
})();
