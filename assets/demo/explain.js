// The step-by-step page: W, X, y and the loss go to /api/explain; this script lays out the
// numbers that come back as tables. It computes none of them.
import { api, coalesce, el, fmt, showError } from "/static/common.js";

const $ = (id) => document.getElementById(id);
const DECIMALS = 4;
const state = { weights: [], inputs: [], labels: [] };

const FORMULAS = {
  softmax: [
    "scores       f_j = w_j·x_i",
    "probability  p_j = e^(f_j − max) / Σ_k e^(f_k − max),  max = max_k f_k",
    "loss         L_i = −(f_{y_i} − max) + log Σ_k e^(f_k − max) = −log p_{y_i}",
    "gradient     row j of ∂L_i/∂W = (p_j − 1{j = y_i}) · x_i",
  ],
  svm: [
    "scores       f_j = w_j·x_i",
    "loss         L_i = Σ_{j≠y_i} max(0, f_j − f_{y_i} + 1)",
    "gradient     row j ≠ y_i of ∂L_i/∂W = 1{f_j − f_{y_i} + 1 > 0} · x_i",
    "             row y_i of ∂L_i/∂W = −(number of positive margins) · x_i",
  ],
};
const PENALTY = { half: ["½·reg·ΣW²", "reg·W"], full: ["reg·ΣW²", "2·reg·W"] };

function terms() {
  return { loss: $("loss").value, reg: Number($("reg").value), reg_convention: $("reg-convention").value };
}

const recompute = coalesce(async () => {
  renderFormulas();
  try {
    const out = await api("/api/explain", { ...state, ...terms() });
    showError("");
    render(out);
  } catch (error) {
    showError(error.message);
  }
});

async function newExample() {
  const number = (id) => Number($(id).value);
  try {
    const problem = await api("/api/explain/example", {
      seed: number("seed"), n_classes: number("n-classes"),
      n_features: number("n-features"), n_samples: number("n-samples"),
    });
    Object.assign(state, problem);
    buildDataTables();
    recompute();
  } catch (error) {
    showError(error.message);
  }
}

// ---------------------------------------------------------------------------------------
// The editable data
// ---------------------------------------------------------------------------------------

/** A number field that calls `set`; a field that is not a number is marked, not sent. */
function field(label, value, set, step, className = "") {
  const input = el("input", { type: "number", step, value: String(value), className });
  input.setAttribute("aria-label", label);
  input.addEventListener("input", () => {
    const number = Number(input.value);
    const valid = input.value.trim() !== "" && Number.isFinite(number);
    input.setAttribute("aria-invalid", String(!valid));
    if (!valid) { showError(`${label} is not a number`); return; }
    set(number);
    recompute();
  });
  return input;
}

function header(cells) {
  return el("thead", {}, el("tr", {}, ...cells.map((cell) => el("th", {}, cell))));
}

function buildDataTables() {
  const columns = state.weights[0].length;
  const names = Array.from({ length: columns }, (_, d) => `d=${d}`);
  $("weights").replaceChildren(header(["", ...names]), el("tbody", {}, ...state.weights.map((row, j) =>
    el("tr", {}, el("th", {}, `j=${j}`), ...row.map((value, d) => el("td", {},
      field(`W[${j}][${d}]`, value, (v) => { state.weights[j][d] = v; }, "0.01")))))));
  $("inputs").replaceChildren(header(["", ...names, "y_i"]), el("tbody", {}, ...state.inputs.map((row, i) =>
    el("tr", {}, el("th", {}, `i=${i}`),
      ...row.map((value, d) => el("td", {},
        field(`X[${i}][${d}]`, value, (v) => { state.inputs[i][d] = v; }, "0.1"))),
      el("td", {}, field(`y[${i}]`, state.labels[i], (v) => { state.labels[i] = v; }, "1", "label-input"))))));
}

// ---------------------------------------------------------------------------------------
// The numbers
// ---------------------------------------------------------------------------------------

function renderFormulas() {
  const { loss, reg_convention: convention } = terms();
  const [penalty, gradient] = PENALTY[convention];
  $("formulas").textContent = [
    ...FORMULAS[loss],
    `total        L = (1/N) Σ_i L_i + ${penalty},  dW = (1/N) Σ_i ∂L_i/∂W + ${gradient}`,
  ].join("\n");
}

function numberTable(head, rows, className = "") {
  return el("div", { className: "scroll" }, el("table", { className }, header(head), el("tbody", {},
    ...rows.map((row) => el("tr", {}, ...row.map((cell, k) =>
      k === 0 ? el("th", {}, cell) : el("td", { className: "num" }, cell)))))));
}

function matrix(values, rowName) {
  const names = values[0].map((_, d) => `d=${d}`);
  return numberTable(["", ...names], values.map((row, r) => [`${rowName}=${r}`, ...row.map((v) => fmt(v, DECIMALS))]));
}

function sampleSection(sample, i) {
  const label = state.labels[i];
  const sub = (k) => String(k).replace(/[0-9]/g, (c) => "₀₁₂₃₄₅₆₇₈₉"[c]);
  const name = (j) => (j === label ? `j=${j} = y${sub(i)}` : `j=${j}`);
  const section = el("section", { className: "panel" });
  section.append(el("h2", {}, `Sample i = ${i}: x${sub(i)} = [${state.inputs[i].map((v) => fmt(v, 1)).join(", ")}], y${sub(i)} = ${label}`));
  if (sample.probs) {
    section.append(numberTable(
      ["", "f_j = w_j·x_i", "f_j − max", "e^(f_j − max)", "p_j", "p_j − 1{j = y_i}"],
      sample.scores.map((f, j) => [name(j), fmt(f, DECIMALS), fmt(sample.shifted[j], DECIMALS),
        fmt(sample.exps[j], DECIMALS), fmt(sample.probs[j], DECIMALS), fmt(sample.coefficients[j], DECIMALS)])));
    section.append(el("p", { className: "num" },
      `max = ${fmt(sample.max, DECIMALS)},  Σ = Σ_j e^(f_j − max) = ${fmt(sample.sum, DECIMALS)},  ` +
      `L${sub(i)} = −(f_y − max) + log Σ = ${fmt(sample.loss, DECIMALS)}`));
  } else {
    section.append(numberTable(
      ["", "f_j = w_j·x_i", "margin f_j − f_{y_i} + 1", "c_j"],
      sample.scores.map((f, j) => [name(j), fmt(f, DECIMALS),
        sample.margins[j] === null ? "—" : fmt(sample.margins[j], DECIMALS), fmt(sample.coefficients[j], 0)])));
    section.append(el("p", { className: "num" },
      `L${sub(i)} = Σ_{j≠y} max(0, margin) = ${fmt(sample.loss, DECIMALS)}  (c_j = 1 for a positive margin, −count for y${sub(i)})`));
  }
  section.append(el("h3", {}, `∂L${sub(i)}/∂W: row j = c_j · x${sub(i)}`), matrix(sample.grad, "j"));
  return section;
}

function render(out) {
  const { reg, reg_convention: convention } = terms();
  const [penalty, gradient] = PENALTY[convention];
  const total = $("explain-loss");
  total.textContent = fmt(out.loss, 10);
  total.dataset.value = String(out.loss);
  const n = out.samples.length;
  $("totals").replaceChildren(numberTable(["", "value"], [
    [`data loss (1/N) Σ_i L_i, N = ${n}`, fmt(out.data_loss, DECIMALS)],
    ["ΣW²", fmt(out.sum_squares, DECIMALS)],
    [`penalty ${penalty} = ${out.penalty_factor} · ΣW² (reg ${reg})`, fmt(out.reg_loss, DECIMALS)],
    ["total loss L", fmt(out.loss, 10)],
  ], "wrap-first"));
  const checks = out.checks;
  const verdict = checks.failures.length === 0
    ? el("p", { className: "verdict ok" }, `✓ these numbers equal softmax::loss_and_grad under every kernel and a numerical gradient (max relative error ${checks.max_relative_error.toExponential(1)})`)
    : el("p", { className: "verdict bad" }, `✗ MISMATCH: ${checks.failures.join("; ")}`);
  $("checks").replaceChildren(
    el("h3", {}, "Checks: softmax::loss_and_grad on the same W, X, y"),
    numberTable(["kernel", "loss", "|L − L_library|", "max |dW − dW_library|"],
      checks.kernels.map((k) => [k.kernel, fmt(k.loss, 10), k.loss_diff.toExponential(1), k.grad_diff.toExponential(1)])),
    verdict);
  $("samples").replaceChildren(...out.samples.map(sampleSection));
  const titled = (title, values) => el("div", {}, el("h3", {}, title), matrix(values, "j"));
  $("gradients").replaceChildren(el("section", { className: "panel" },
    el("h2", {}, "Average over the samples, plus regularization"),
    el("div", { className: "matrices" },
      titled("(1/N) Σ_i ∂L_i/∂W", out.data_grad),
      titled(`penalty gradient ${gradient} = ${out.grad_factor} · W`, out.reg_grad),
      titled(`dW = (1/N) Σ_i ∂L_i/∂W + ${gradient}`, out.grad))));
}

for (const id of ["loss", "reg", "reg-convention"]) $(id).addEventListener("input", () => recompute());
$("new-example").addEventListener("click", () => newExample());
newExample();
