// The 2-D classifier page: the user's points and parameters go to /api/loss and /api/step;
// this script draws what comes back and handles the controls. It computes none of the numbers.
import { api, coalesce, el, fmt, showError } from "/static/common.js";

const EXTENT = 1.5; // the plane shows [-EXTENT, EXTENT]²
const GRID = 100; // cells per side of the coloured class regions
const NUDGE = 0.1;
const ARROW_SCALE = 0.15; // plane units per unit of −∂L_i/∂x_i
const COLORS = ["#d62728", "#2ca02c", "#1f77b4"];
const REGIONS = ["#f8d9d9", "#d9eed9", "#d6e6f2"]; // the class colours, pale and opaque

const $ = (id) => document.getElementById(id);
const state = {
  inputs: [], labels: [], weights: [], bias: [], start: null,
  result: null, history: [], steps: 0, seed: 0, running: false, dragging: null,
};

function problem() {
  return {
    weights: state.weights, bias: state.bias, inputs: state.inputs, labels: state.labels,
    loss: $("loss").value, reg: Number($("reg").value), reg_convention: $("reg-convention").value,
    grid: { x: [-EXTENT, EXTENT], y: [-EXTENT, EXTENT], size: GRID },
  };
}

/** Recomputes the loss at the current parameters; the step history starts again. */
const evaluate = coalesce(async () => {
  try {
    state.result = await api("/api/loss", problem());
    state.history = [state.result.loss];
    state.steps = 0;
    showError("");
  } catch (error) {
    showError(error.message);
  }
  render();
});

/** One gradient step on the server; false when it failed. */
async function step() {
  try {
    const result = await api("/api/step", {
      ...problem(), learning_rate: Number($("learning-rate").value), steps: 1,
    });
    state.result = result;
    state.weights = result.weights;
    state.bias = result.bias;
    state.history.push(...result.losses);
    state.steps += result.losses.length;
    showError("");
    render();
    return true;
  } catch (error) {
    showError(error.message);
    return false;
  }
}

async function runSteps() {
  while (state.running) {
    if (!(await step())) setRunning(false);
    await new Promise((resolve) => setTimeout(resolve, 60));
  }
}

function setRunning(running) {
  state.running = running;
  const button = $("run");
  button.textContent = running ? "Stop" : "Start repeated steps";
  button.setAttribute("aria-pressed", String(running));
  if (running) runSteps();
}

async function loadPreset() {
  try {
    const data = await api("/api/preset", { name: $("preset").value, seed: state.seed });
    state.inputs = data.inputs;
    state.labels = data.labels;
    state.start = { weights: data.weights, bias: data.bias };
    resetParameters();
  } catch (error) {
    showError(error.message);
  }
}

function resetParameters() {
  state.weights = state.start.weights.map((row) => [...row]);
  state.bias = [...state.start.bias];
  evaluate();
}

// ---------------------------------------------------------------------------------------
// The parameter table
// ---------------------------------------------------------------------------------------

/** The field of one parameter: W[j][d] (d = 0, 1) or b[j] (d = 2). */
function parameterCell(j, d) {
  const name = d < 2 ? `W[${j}][${d}]` : `b[${j}]`;
  const get = () => (d < 2 ? state.weights[j][d] : state.bias[j]);
  const set = (value) => { if (d < 2) state.weights[j][d] = value; else state.bias[j] = value; };
  const input = el("input", { type: "number", step: String(NUDGE), id: `param-${j}-${d}` });
  input.setAttribute("aria-label", name);
  input.addEventListener("input", () => {
    if (input.value !== "" && Number.isFinite(Number(input.value))) {
      set(Number(input.value));
      evaluate();
    }
  });
  const nudge = (sign) => {
    const button = el("button", { type: "button", className: "small secondary", textContent: sign > 0 ? "+" : "−" });
    button.setAttribute("aria-label", `${sign > 0 ? "Increase" : "Decrease"} ${name} by ${NUDGE}`);
    button.addEventListener("click", () => { set(Number((get() + sign * NUDGE).toFixed(10))); evaluate(); });
    return button;
  };
  return el("td", {}, el("div", { className: "nudge" }, nudge(-1), input, nudge(1)));
}

function buildParameterTable() {
  const body = $("params").querySelector("tbody");
  body.replaceChildren();
  for (let j = 0; j < 3; j++) {
    const label = el("td", {}, el("span", { className: `swatch c${j}` }), String(j));
    body.append(el("tr", {}, label, parameterCell(j, 0), parameterCell(j, 1), parameterCell(j, 2)));
  }
}

function renderParameters() {
  for (let j = 0; j < 3; j++) {
    for (let d = 0; d < 3; d++) {
      const input = $(`param-${j}-${d}`);
      if (document.activeElement === input) continue; // do not overwrite what is being typed
      input.value = fmt(d < 2 ? state.weights[j][d] : state.bias[j], 3);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Drawing
// ---------------------------------------------------------------------------------------

/** Sizes a canvas's pixels to its displayed size; returns its context, scaled to CSS pixels. */
function prepare(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const { width, height } = canvas.getBoundingClientRect();
  canvas.width = Math.max(1, Math.round(width * ratio));
  canvas.height = Math.max(1, Math.round(height * ratio));
  const context = canvas.getContext("2d");
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  return { context, width, height };
}

function toScreen([x, y], size) {
  return [((x + EXTENT) / (2 * EXTENT)) * size, ((EXTENT - y) / (2 * EXTENT)) * size];
}

function toPlane(px, py, size) {
  return [(px / size) * 2 * EXTENT - EXTENT, EXTENT - (py / size) * 2 * EXTENT];
}

function arrow(context, [x0, y0], [x1, y1], color, width) {
  const angle = Math.atan2(y1 - y0, x1 - x0);
  const head = 4 + 2 * width;
  context.strokeStyle = color;
  context.fillStyle = color;
  context.lineWidth = width;
  context.beginPath();
  context.moveTo(x0, y0);
  context.lineTo(x1, y1);
  context.stroke();
  context.beginPath();
  context.moveTo(x1, y1);
  context.lineTo(x1 - head * Math.cos(angle - 0.45), y1 - head * Math.sin(angle - 0.45));
  context.lineTo(x1 - head * Math.cos(angle + 0.45), y1 - head * Math.sin(angle + 0.45));
  context.closePath();
  context.fill();
}

/** The part of the line w·x + b = 0 inside the plane's square, or null (Liang–Barsky). */
function clippedLine(w, b) {
  const norm2 = w[0] * w[0] + w[1] * w[1];
  if (norm2 === 0) return null;
  const origin = [(-b * w[0]) / norm2, (-b * w[1]) / norm2];
  const direction = [-w[1], w[0]];
  let low = -Infinity;
  let high = Infinity;
  for (let axis = 0; axis < 2; axis++) {
    if (direction[axis] === 0) {
      if (Math.abs(origin[axis]) > EXTENT) return null;
      continue;
    }
    const a = (-EXTENT - origin[axis]) / direction[axis];
    const c = (EXTENT - origin[axis]) / direction[axis];
    low = Math.max(low, Math.min(a, c));
    high = Math.min(high, Math.max(a, c));
  }
  if (low > high) return null;
  const at = (t) => [origin[0] + t * direction[0], origin[1] + t * direction[1]];
  return { from: at(low), to: at(high), middle: at(Math.max(low, Math.min(high, 0))) };
}

function drawPlane() {
  const { context, width: size } = prepare($("plane"));
  context.fillStyle = "#fff";
  context.fillRect(0, 0, size, size);
  const result = state.result;
  if (result && result.grid) {
    const cell = size / GRID;
    result.grid.classes.forEach((k, index) => {
      context.fillStyle = REGIONS[k] || "#eee";
      context.fillRect((index % GRID) * cell, Math.floor(index / GRID) * cell, cell + 0.5, cell + 0.5);
    });
  }
  // Axes and the unit ticks.
  context.strokeStyle = "#b8bec9";
  context.lineWidth = 1;
  context.beginPath();
  const [ox, oy] = toScreen([0, 0], size);
  context.moveTo(0, oy); context.lineTo(size, oy);
  context.moveTo(ox, 0); context.lineTo(ox, size);
  for (const t of [-1, 1]) {
    const [tx] = toScreen([t, 0], size);
    const [, ty] = toScreen([0, t], size);
    context.moveTo(tx, oy - 4); context.lineTo(tx, oy + 4);
    context.moveTo(ox - 4, ty); context.lineTo(ox + 4, ty);
  }
  context.stroke();
  // Each class's line f_j = 0 and its arrow along w_j.
  state.weights.forEach((w, j) => {
    const line = clippedLine(w, state.bias[j]);
    if (!line) return;
    context.strokeStyle = COLORS[j];
    context.lineWidth = 2;
    context.beginPath();
    context.moveTo(...toScreen(line.from, size));
    context.lineTo(...toScreen(line.to, size));
    context.stroke();
    const norm = Math.hypot(w[0], w[1]);
    const tip = [line.middle[0] + (0.35 * w[0]) / norm, line.middle[1] + (0.35 * w[1]) / norm];
    arrow(context, toScreen(line.middle, size), toScreen(tip, size), COLORS[j], 2);
  });
  // The points, a ring on those predicted wrong, and on request each point's −∂L_i/∂x_i.
  state.inputs.forEach((point, i) => {
    const [px, py] = toScreen(point, size);
    context.beginPath();
    context.arc(px, py, 6, 0, 2 * Math.PI);
    context.fillStyle = COLORS[state.labels[i]];
    context.fill();
    context.lineWidth = 1.5;
    context.strokeStyle = "#111";
    context.stroke();
    if (result && result.predicted && result.predicted[i] !== state.labels[i]) {
      context.beginPath();
      context.arc(px, py, 10, 0, 2 * Math.PI);
      context.strokeStyle = "#111";
      context.lineWidth = 1;
      context.stroke();
    }
    if ($("arrows").checked && result && result.point_input_grads) {
      const g = result.point_input_grads[i];
      if (Math.hypot(g[0], g[1]) > 1e-9) {
        const tip = [point[0] - ARROW_SCALE * g[0], point[1] - ARROW_SCALE * g[1]];
        arrow(context, [px, py], toScreen(tip, size), "#222", 1.5);
      }
    }
  });
}

function drawLossPlot() {
  const { context, width, height } = prepare($("loss-plot"));
  context.fillStyle = "#fff";
  context.fillRect(0, 0, width, height);
  const losses = state.history;
  const left = 52;
  const bottom = height - 22;
  const top = 10;
  const right = width - 10;
  context.strokeStyle = "#b8bec9";
  context.lineWidth = 1;
  context.beginPath();
  context.moveTo(left, top); context.lineTo(left, bottom); context.lineTo(right, bottom);
  context.stroke();
  context.fillStyle = "#5b6475";
  context.font = "12px system-ui, sans-serif";
  if (losses.length === 0) return;
  const max = Math.max(...losses);
  const min = Math.min(0, ...losses);
  const span = max - min || 1;
  const last = Math.max(1, losses.length - 1);
  context.fillText(fmt(max, 3), 4, top + 8);
  context.fillText(fmt(min, 3), 4, bottom);
  context.fillText("step 0", left, height - 6);
  const stepsText = `step ${losses.length - 1}`;
  context.fillText(stepsText, right - context.measureText(stepsText).width, height - 6);
  context.strokeStyle = "#2456b3";
  context.lineWidth = 2;
  context.beginPath();
  losses.forEach((loss, k) => {
    const x = left + ((right - left) * k) / last;
    const y = bottom - ((bottom - top) * (loss - min)) / span;
    if (k === 0) context.moveTo(x, y); else context.lineTo(x, y);
  });
  context.stroke();
  const lastY = bottom - ((bottom - top) * (losses[losses.length - 1] - min)) / span;
  context.fillStyle = "#2456b3";
  context.beginPath();
  context.arc(left + ((right - left) * (losses.length - 1)) / last, lastY, 3.5, 0, 2 * Math.PI);
  context.fill();
}

function renderPoints() {
  const body = $("points").querySelector("tbody");
  const result = state.result;
  body.replaceChildren(...state.inputs.map((point, i) => {
    const scores = result && result.scores[i] ? result.scores[i] : [null, null, null];
    const cells = [
      el("td", {}, String(i)),
      el("td", { className: "num" }, fmt(point[0], 2)),
      el("td", { className: "num" }, fmt(point[1], 2)),
      el("td", {}, el("span", { className: `swatch c${state.labels[i]}` }), String(state.labels[i])),
      ...scores.map((s) => el("td", { className: "num" }, s === null ? "…" : fmt(s, 3))),
      el("td", {}, result && result.predicted ? String(result.predicted[i]) : "…"),
      el("td", { className: "num" }, result && result.point_losses ? fmt(result.point_losses[i], 4) : "…"),
    ];
    const row = el("tr", {}, ...cells);
    if (result && result.predicted && result.predicted[i] !== state.labels[i]) row.className = "wrong";
    return row;
  }));
}

function render() {
  renderParameters();
  const result = state.result;
  if (result) {
    const total = $("loss-total");
    total.textContent = fmt(result.loss, 6);
    total.dataset.value = String(result.loss);
    $("loss-data").textContent = fmt(result.data_loss, 6);
    $("loss-reg").textContent = fmt(result.reg_loss, 6);
  }
  $("step-count").textContent = String(state.steps);
  drawPlane();
  drawLossPlot();
  renderPoints();
}

// ---------------------------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------------------------

function planePosition(event) {
  const rect = $("plane").getBoundingClientRect();
  return { px: event.clientX - rect.left, py: event.clientY - rect.top, size: rect.width };
}

function setupPlane() {
  const canvas = $("plane");
  canvas.addEventListener("pointerdown", (event) => {
    const { px, py, size } = planePosition(event);
    const near = state.inputs.findIndex((point) => {
      const [x, y] = toScreen(point, size);
      return Math.hypot(x - px, y - py) <= 10;
    });
    if (near >= 0) {
      state.dragging = near;
      canvas.setPointerCapture(event.pointerId);
    } else {
      state.inputs.push(toPlane(px, py, size));
      state.labels.push(Number($("new-class").value));
      evaluate();
    }
  });
  canvas.addEventListener("pointermove", (event) => {
    if (state.dragging === null) return;
    const { px, py, size } = planePosition(event);
    const clamp = (v) => Math.max(-EXTENT, Math.min(EXTENT, v));
    const [x, y] = toPlane(px, py, size);
    state.inputs[state.dragging] = [clamp(x), clamp(y)];
    evaluate();
  });
  const stop = () => { state.dragging = null; };
  canvas.addEventListener("pointerup", stop);
  canvas.addEventListener("pointercancel", stop);
}

function setupControls() {
  $("one-step").addEventListener("click", () => step());
  $("run").addEventListener("click", () => setRunning(!state.running));
  $("reset").addEventListener("click", () => resetParameters());
  $("preset").addEventListener("change", () => loadPreset());
  $("resample").addEventListener("click", () => { state.seed += 1; loadPreset(); });
  for (const id of ["loss", "reg", "reg-convention"]) $(id).addEventListener("input", () => evaluate());
  $("arrows").addEventListener("change", () => drawPlane());
  $("add-point").addEventListener("click", () => {
    state.inputs.push([Number($("new-x").value), Number($("new-y").value)]);
    state.labels.push(Number($("new-class").value));
    evaluate();
  });
  $("remove-point").addEventListener("click", () => {
    if (state.inputs.length <= 1) return;
    state.inputs.pop();
    state.labels.pop();
    evaluate();
  });
  window.addEventListener("resize", () => { drawPlane(); drawLossPlot(); });
}

buildParameterTable();
setupPlane();
setupControls();
loadPreset();
