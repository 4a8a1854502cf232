// Shared helpers of the demo's pages: calling the JSON API, formatting, drawing small images.
// No computation of the model happens here: every number comes from the server.

/** POSTs `body` as JSON to `path`; resolves to the answer, or throws its `error`. */
export async function api(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return answer(response);
}

/** GETs `path`; resolves to its JSON, or throws its `error`. */
export async function getJson(path) {
  return answer(await fetch(path));
}

async function answer(response) {
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

/** `x` with `digits` decimals, without the sign of a value that rounds to zero. */
export function fmt(x, digits = 4) {
  const text = Number(x).toFixed(digits);
  return /^-0\.?0*$/.test(text) ? text.slice(1) : text;
}

/** Shows `message` in the page's error line (or clears it). */
export function showError(message) {
  document.getElementById("error").textContent = message || "";
}

/** Runs `task` at most once per animation frame; calls made meanwhile run it once more after. */
export function coalesce(task) {
  let running = false;
  let again = false;
  return async function run() {
    if (running) { again = true; return; }
    running = true;
    try {
      do { again = false; await task(); } while (again);
    } finally {
      running = false;
    }
  };
}

/** Element helper: `el("td", {className: "num"}, "text", child, ...)`. */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const child of children) node.append(child);
  return node;
}

/**
 * Draws `values` (rows × columns, row by row) into `canvas`, one canvas pixel per value:
 * grey (0 = white, `max` = black), or diverging (blue below 0, red above, scaled by the
 * largest magnitude).
 */
export function drawPixels(canvas, values, rows, columns, mode, max) {
  canvas.width = columns;
  canvas.height = rows;
  const context = canvas.getContext("2d");
  const image = context.createImageData(columns, rows);
  const scale = mode === "diverging" ? Math.max(...values.map(Math.abs)) || 1 : max || 1;
  values.forEach((value, i) => {
    const t = Math.max(-1, Math.min(1, value / scale));
    let rgb;
    if (mode === "diverging") {
      const fade = Math.round(255 * (1 - Math.abs(t)));
      rgb = t >= 0 ? [255, fade, fade] : [fade, fade, 255];
    } else {
      const grey = Math.round(255 * (1 - Math.max(0, t)));
      rgb = [grey, grey, grey];
    }
    image.data.set([...rgb, 255], 4 * i);
  });
  context.putImageData(image, 0, 0);
}
