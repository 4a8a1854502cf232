// The draw-a-digit page: the drawing's ink goes to /api/predict as pixels; this script draws
// the answer (bars, the model's input, the map, the templates). It computes no probabilities.
import { api, coalesce, drawPixels, el, fmt, getJson, showError } from "/static/common.js";

const $ = (id) => document.getElementById(id);
const canvas = $("draw");
const context = canvas.getContext("2d");
const STROKE = 11; // pixels of the 140×140 drawing
let model = null;
let drawing = false;
let last = null;

function clear() {
  context.clearRect(0, 0, canvas.width, canvas.height);
}

/** The drawing's ink: the alpha of every pixel, row by row. */
function pixels() {
  const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
  const ink = new Array(canvas.width * canvas.height);
  for (let i = 0; i < ink.length; i++) ink[i] = data[4 * i + 3];
  return ink;
}

const predict = coalesce(async () => {
  if (!model || !model.image) return;
  try {
    const out = await api("/api/predict", { width: canvas.width, height: canvas.height, pixels: pixels() });
    showError("");
    render(out);
  } catch (error) {
    showError(error.message);
  }
});

function render(out) {
  const { height, width, pixel_max: max } = model.image;
  $("blank-note").hidden = out.input.some((value) => value !== 0);
  drawPixels($("input-image"), out.input, height, width, "grey", max);
  drawPixels($("contribution-image"), out.contributions, height, width, "diverging");
  const name = model.class_names[out.predicted];
  $("contribution-caption").textContent = `w ⊙ x′ of class ${name}`;
  $("score-sum").textContent =
    `Here f = ${fmt(out.scores[out.predicted], 3)} (bias ${fmt(out.bias, 3)}).`;
  const bars = $("bars");
  out.probabilities.forEach((p, j) => {
    const fill = bars.querySelector(`[data-class="${j}"]`);
    fill.style.width = `${(100 * p).toFixed(2)}%`;
    fill.dataset.value = String(p);
    fill.classList.toggle("top", j === out.predicted);
    $(`bar-text-${j}`).textContent = `${(100 * p).toFixed(1)}%`;
  });
}

function buildBars() {
  const bars = $("bars");
  bars.replaceChildren();
  model.class_names.forEach((name, j) => {
    const fill = el("div", { className: "bar-fill" });
    fill.dataset.class = String(j);
    fill.dataset.value = "0";
    const track = el("div", { className: "bar-track" }, fill);
    track.setAttribute("role", "img");
    track.setAttribute("aria-label", `probability of class ${name}`);
    bars.append(el("span", { className: "num" }, name), track,
      el("span", { className: "num", id: `bar-text-${j}` }, "…"));
  });
}

function buildTemplates() {
  const box = $("templates");
  box.replaceChildren();
  if (!model.image) return;
  const { height, width } = model.image;
  model.templates.forEach((row, j) => {
    const image = el("canvas", { className: "pixels" });
    image.setAttribute("aria-label", `template of class ${model.class_names[j]}`);
    drawPixels(image, row, height, width, "diverging");
    box.append(el("figure", {}, image, el("figcaption", {}, `class ${model.class_names[j]}`)));
  });
}

function position(event) {
  const rect = canvas.getBoundingClientRect();
  return [((event.clientX - rect.left) / rect.width) * canvas.width,
    ((event.clientY - rect.top) / rect.height) * canvas.height];
}

function line(from, to) {
  context.strokeStyle = "#000";
  context.lineWidth = STROKE;
  context.lineCap = "round";
  context.lineJoin = "round";
  context.beginPath();
  context.moveTo(...from);
  context.lineTo(...to);
  context.stroke();
}

function setupDrawing() {
  canvas.addEventListener("pointerdown", (event) => {
    drawing = true;
    last = position(event);
    canvas.setPointerCapture(event.pointerId);
    line(last, last);
    predict();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drawing) return;
    const point = position(event);
    line(last, point);
    last = point;
    predict();
  });
  const stop = () => { drawing = false; };
  canvas.addEventListener("pointerup", stop);
  canvas.addEventListener("pointercancel", stop);
  $("clear").addEventListener("click", () => { clear(); predict(); });
  $("example").addEventListener("click", () => {
    clear();
    const stroke = [[38, 32], [102, 32], [80, 72], [62, 112]];
    for (let k = 1; k < stroke.length; k++) line(stroke[k - 1], stroke[k]);
    line([56, 74], [92, 74]);
    predict();
  });
}

async function start() {
  try {
    model = await getJson("/api/model");
  } catch (error) {
    showError(error.message);
    return;
  }
  $("model-description").textContent = `Model: ${model.description}; preprocessing ${model.preprocess}.`;
  buildBars();
  buildTemplates();
  if (!model.image) {
    showError("This model's inputs are not single-channel images: there is nothing to draw.");
    return;
  }
  $("input-caption").textContent = `the model's input (${model.image.height}×${model.image.width}, 0–${model.image.pixel_max})`;
  setupDrawing();
  predict();
}

start();
