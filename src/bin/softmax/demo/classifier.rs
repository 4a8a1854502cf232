//! The linear classifier's endpoints: loss and gradient (`/api/loss`), gradient steps
//! (`/api/step`) and the 2-D page's data sets (`/api/preset`).
//!
//! The model is f = W x + b (W: C×D, b: C). Its objective is the library's training objective
//! with an unregularized intercept ([`Objective`] with [`Bias::Intercept`]): the mean data loss
//! over the N points plus the L2 penalty on W alone, in the named convention. Inputs get a
//! constant-1 column, so the library sees the weights [W | b] (C×(D+1)).

use ndarray::{Array1, Array2, ArrayView2, Axis, concatenate, s};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::Deserialize;
use serde_json::{Value, json};
use softmax::preprocess::{Bias, split_bias};
use softmax::train::Objective;
use softmax::{Kernel, LossAndGrad, LossOptions, loss_and_grad};

use super::request::{self, ApiError, Terms, half_name, softmax_name};

/// The most points (samples) a request may hold.
pub const MAX_POINTS: usize = 1000;
/// The most values W or X may hold.
const MAX_VALUES: usize = 20_000;
/// The most classes.
const MAX_CLASSES: usize = 100;
/// The most gradient steps one request may take.
pub const MAX_STEPS: usize = 1000;
/// The most cells along one side of the plane's grid.
const MAX_GRID: usize = 200;

/// A linear classifier on labeled points, as the pages send it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProblemRequest {
    /// W, C×D.
    pub weights: Vec<Vec<f64>>,
    /// b, C values; absent: zeros.
    #[serde(default)]
    pub bias: Option<Vec<f64>>,
    /// X, N×D.
    pub inputs: Vec<Vec<f64>>,
    /// y, N labels in `0..C`.
    pub labels: Vec<usize>,
    #[serde(default = "softmax_name")]
    pub loss: String,
    #[serde(default)]
    pub reg: f64,
    #[serde(default = "half_name")]
    pub reg_convention: String,
    /// The plane's classes on a grid (D = 2 only).
    #[serde(default)]
    pub grid: Option<Grid>,
    /// `/api/step` only: the step size.
    #[serde(default)]
    pub learning_rate: Option<f64>,
    /// `/api/step` only: how many steps (default 1).
    #[serde(default)]
    pub steps: Option<usize>,
}

/// A size×size grid of cell centres over `[x0, x1] × [y0, y1]`, rows from the top (y1) down.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grid {
    pub x: [f64; 2],
    pub y: [f64; 2],
    pub size: usize,
}

/// A checked problem: [W | b] (C×(D+1)), [X | 1] (N×(D+1)), labels, terms, grid.
struct Problem {
    weights: Array2<f64>,
    inputs: Array2<f64>,
    labels: Vec<usize>,
    terms: Terms,
    grid: Option<Grid>,
}

impl ProblemRequest {
    /// Checks the shapes and limits; the library checks labels and values again.
    fn check(&self) -> Result<Problem, ApiError> {
        let terms = request::terms(&self.loss, self.reg, &self.reg_convention)?;
        let weights = request::matrix("weights", &self.weights, MAX_VALUES)?;
        let inputs = request::matrix("inputs", &self.inputs, MAX_VALUES)?;
        request::between_one_and("classes (rows of weights)", weights.nrows(), MAX_CLASSES)?;
        request::between_one_and("points (rows of inputs)", inputs.nrows(), MAX_POINTS)?;
        if weights.ncols() != inputs.ncols() || weights.ncols() == 0 {
            return Err(ApiError::bad_request(format!(
                "weights have {} columns and inputs {}: both need the same D ≥ 1 features",
                weights.ncols(),
                inputs.ncols()
            )));
        }
        let bias = match &self.bias {
            Some(bias) => request::vector("bias", bias, weights.nrows())?,
            None => Array1::zeros(weights.nrows()),
        };
        if let Some(grid) = self.grid {
            check_grid(grid, inputs.ncols())?;
        }
        Ok(Problem {
            weights: append_column(weights.view(), bias.view().insert_axis(Axis(1))),
            inputs: append_column(inputs.view(), Array2::ones((inputs.nrows(), 1)).view()),
            labels: self.labels.clone(),
            terms,
            grid: self.grid,
        })
    }
}

/// A grid needs D = 2, a size in `1..=MAX_GRID` and finite, increasing ranges.
fn check_grid(grid: Grid, n_features: usize) -> Result<(), ApiError> {
    if n_features != 2 {
        return Err(ApiError::bad_request(format!(
            "grid: the plane needs D = 2 features, the inputs have {n_features}"
        )));
    }
    request::between_one_and("grid size", grid.size, MAX_GRID)?;
    for (name, [low, high]) in [("grid x", grid.x), ("grid y", grid.y)] {
        if !(low.is_finite() && high.is_finite() && low < high) {
            return Err(ApiError::bad_request(format!(
                "{name}: [{low}, {high}] must be finite with the first below the second"
            )));
        }
    }
    Ok(())
}

/// `matrix` with `column` (one column, as many rows) appended on the right.
fn append_column(matrix: ArrayView2<f64>, column: ArrayView2<f64>) -> Array2<f64> {
    concatenate(Axis(1), &[matrix, column]).expect("as many rows")
}

impl Problem {
    /// The library's objective: mean data loss + penalty on W, intercept unregularized.
    fn objective(&self) -> Objective<'_, f64> {
        Objective {
            inputs: self.inputs.view().into(),
            labels: &self.labels,
            sample_weights: None,
            loss: self.terms.loss,
            reg: self.terms.reg,
            reg_convention: self.terms.reg_convention,
            bias: Bias::Intercept,
            kernel: Kernel::Auto,
            label_smoothing: 0.0,
        }
    }

    /// The objective and its gradient at the current [W | b].
    fn evaluate(&self) -> Result<LossAndGrad<f64>, ApiError> {
        Ok(self.objective().evaluate(self.weights.view())?)
    }

    /// W (C×D), without the bias column.
    fn plain_weights(&self) -> ArrayView2<'_, f64> {
        self.weights.slice(s![.., ..self.weights.ncols() - 1])
    }

    /// Everything the pages show about the current parameters, as JSON (see the README).
    fn describe(&self) -> Result<Value, ApiError> {
        let total = self.evaluate()?;
        let data_options = LossOptions { loss: self.terms.loss, ..LossOptions::default() };
        let data =
            loss_and_grad(self.weights.view(), self.inputs.view(), &self.labels, &data_options)?;
        let reg_loss = self.terms.reg_convention.penalty(self.terms.reg, self.plain_weights());
        let (grad_weights, grad_bias) = split_bias(total.grad.view());
        let scores = self.inputs.dot(&self.weights.t());
        let points = self.per_point(&data_options)?;
        let mut out = json!({
            "loss": total.loss,
            "data_loss": data.loss,
            "reg_loss": reg_loss,
            "grad_weights": rows(grad_weights.view()),
            "grad_bias": grad_bias.to_vec(),
            "scores": rows(scores.view()),
            "predicted": softmax::model::argmax_rows(scores.view()),
            "point_losses": points.losses,
            "point_input_grads": rows(points.input_grads.view()),
        });
        if let Some(grid) = self.grid {
            out["grid"] = json!({ "size": grid.size, "classes": self.grid_classes(grid) });
        }
        Ok(out)
    }

    /// Each point's own loss L_i and its gradient with respect to the point, ∂L_i/∂x_i.
    ///
    /// The library computes sample i's ∂L_i/∂[W | b]; its bias column is g = ∂L_i/∂f (the
    /// input's constant 1 multiplies it), and ∂L_i/∂x_i = Σ_j g_j w_j = Wᵀ g.
    fn per_point(&self, data_options: &LossOptions) -> Result<PointTerms, ApiError> {
        let n_features = self.inputs.ncols() - 1;
        let mut losses = Vec::with_capacity(self.labels.len());
        let mut input_grads = Array2::zeros((self.inputs.nrows(), n_features));
        for (i, mut input_grad) in input_grads.rows_mut().into_iter().enumerate() {
            let one = self.inputs.slice(s![i..=i, ..]);
            let out = loss_and_grad(self.weights.view(), one, &self.labels[i..=i], data_options)?;
            losses.push(out.loss);
            input_grad.assign(&self.plain_weights().t().dot(&out.grad.column(n_features)));
        }
        Ok(PointTerms { losses, input_grads })
    }

    /// The class with the highest score at each grid cell's centre, rows from the top.
    fn grid_classes(&self, grid: Grid) -> Vec<usize> {
        let n = grid.size;
        let centre =
            |[low, high]: [f64; 2], k: usize| low + (high - low) * (k as f64 + 0.5) / n as f64;
        let cells = Array2::from_shape_fn((n * n, 3), |(cell, column)| match column {
            0 => centre(grid.x, cell % n),
            1 => centre(grid.y, n - 1 - cell / n),
            _ => 1.0,
        });
        softmax::model::argmax_rows(cells.dot(&self.weights.t()).view())
    }
}

/// [`Problem::per_point`]'s answer.
struct PointTerms {
    losses: Vec<f64>,
    input_grads: Array2<f64>,
}

/// A matrix as a list of rows.
pub fn rows(matrix: ArrayView2<f64>) -> Vec<Vec<f64>> {
    matrix.rows().into_iter().map(|row| row.to_vec()).collect()
}

/// `POST /api/loss`: the objective, its gradient and every point's numbers.
pub fn loss(body: &[u8]) -> Result<Value, ApiError> {
    let request: ProblemRequest = request::parse(body)?;
    if request.learning_rate.is_some() || request.steps.is_some() {
        return Err(ApiError::bad_request("learning_rate and steps belong to /api/step"));
    }
    request.check()?.describe()
}

/// `POST /api/step`: `steps` gradient steps [W | b] ← [W | b] − learning_rate · ∇, then the
/// numbers of [`loss`] at the new parameters, with the new W and b and the loss after each
/// step.
pub fn step(body: &[u8]) -> Result<Value, ApiError> {
    let request: ProblemRequest = request::parse(body)?;
    let rate =
        request.learning_rate.ok_or_else(|| ApiError::bad_request("learning_rate is missing"))?;
    if !(rate.is_finite() && rate > 0.0) {
        return Err(ApiError::bad_request(format!(
            "learning_rate must be finite and > 0, got {rate}"
        )));
    }
    let steps = request.steps.unwrap_or(1);
    request::between_one_and("steps", steps, MAX_STEPS)?;
    let mut problem = request.check()?;
    let mut current = problem.evaluate()?;
    let mut losses = Vec::with_capacity(steps);
    for _ in 0..steps {
        problem.weights.scaled_add(-rate, &current.grad);
        current = problem.evaluate()?;
        losses.push(current.loss);
    }
    let mut out = problem.describe()?;
    let (weights, bias) = split_bias(problem.weights.view());
    out["weights"] = json!(rows(weights.view()));
    out["bias"] = json!(bias.to_vec());
    out["losses"] = json!(losses);
    Ok(out)
}

/// `POST /api/preset` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PresetRequest {
    name: String,
    #[serde(default)]
    seed: u64,
}

/// CS231n's nine points, three per class.
const CS231N_POINTS: [[f64; 2]; 9] = [
    [0.5, 0.4],
    [0.8, 0.3],
    [0.3, 0.8],
    [-0.4, 0.3],
    [-0.3, 0.7],
    [-0.7, 0.2],
    [0.7, -0.4],
    [0.5, -0.6],
    [-0.4, -0.5],
];
/// CS231n's starting weights and biases.
const CS231N_WEIGHTS: [[f64; 2]; 3] = [[1.0, 2.0], [2.0, -4.0], [3.0, -1.0]];
const CS231N_BIAS: [f64; 3] = [0.0, 0.5, -0.5];
/// Points per class of the random presets.
const PER_CLASS: usize = 20;

/// `POST /api/preset`: a 2-D data set of three classes and CS231n's starting parameters.
/// `cs231n`: its nine points; `blobs`: a Gaussian blob per class (σ = 0.2, centres 0.7 from
/// the origin, 120° apart); `spiral`: CS231n's three-armed spiral (r from 0 to 1, angle
/// 4·(j + r) plus noise σ = 0.2), which no linear classifier fits.
pub fn preset(body: &[u8]) -> Result<Value, ApiError> {
    let request: PresetRequest = request::parse(body)?;
    let mut rng = ChaCha8Rng::seed_from_u64(request.seed);
    let mut normal = || -> f64 { StandardNormal.sample(&mut rng) };
    let mut points = Vec::new();
    let mut labels = Vec::new();
    match request.name.as_str() {
        "cs231n" => {
            points.extend(CS231N_POINTS.iter().map(|p| p.to_vec()));
            labels.extend((0..3).flat_map(|class| [class; 3]));
        }
        "blobs" => {
            for class in 0..3 {
                let angle =
                    std::f64::consts::FRAC_PI_2 + class as f64 * 2.0 * std::f64::consts::PI / 3.0;
                for _ in 0..PER_CLASS {
                    let (x, y) =
                        (0.7 * angle.cos() + 0.2 * normal(), 0.7 * angle.sin() + 0.2 * normal());
                    points.push(vec![x, y]);
                    labels.push(class);
                }
            }
        }
        "spiral" => {
            for class in 0..3 {
                for k in 0..PER_CLASS {
                    let radius = k as f64 / (PER_CLASS - 1) as f64;
                    let angle = 4.0 * (class as f64 + radius) + 0.2 * normal();
                    points.push(vec![radius * angle.sin(), radius * angle.cos()]);
                    labels.push(class);
                }
            }
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "unknown preset '{other}': expected one of cs231n, blobs, spiral"
            )));
        }
    }
    Ok(json!({
        "inputs": points,
        "labels": labels,
        "weights": CS231N_WEIGHTS,
        "bias": CS231N_BIAS,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nine_points() -> Value {
        let mut problem = preset(br#"{"name": "cs231n"}"#).unwrap();
        problem["reg"] = json!(0.1);
        problem["loss"] = json!("svm");
        problem
    }

    #[test]
    fn the_loss_is_the_libraries_objective_with_an_unregularized_bias() {
        let problem = nine_points();
        let out = loss(problem.to_string().as_bytes()).unwrap();
        // By hand: the svm data loss of CS231n's parameters plus 0.5·0.1·ΣW² (ΣW² = 35).
        let weights = ndarray::array![[1.0, 2.0, 0.0], [2.0, -4.0, 0.5], [3.0, -1.0, -0.5]];
        let inputs = ndarray::array![
            [0.5, 0.4, 1.0],
            [0.8, 0.3, 1.0],
            [0.3, 0.8, 1.0],
            [-0.4, 0.3, 1.0],
            [-0.3, 0.7, 1.0],
            [-0.7, 0.2, 1.0],
            [0.7, -0.4, 1.0],
            [0.5, -0.6, 1.0],
            [-0.4, -0.5, 1.0]
        ];
        let labels = [0, 0, 0, 1, 1, 1, 2, 2, 2];
        let scores = inputs.dot(&weights.t());
        let mut data_loss = 0.0;
        for (i, &y) in labels.iter().enumerate() {
            let mut point = 0.0;
            for j in 0..3 {
                if j != y {
                    point += f64::max(0.0, scores[[i, j]] - scores[[i, y]] + 1.0);
                }
            }
            assert!((out["point_losses"][i].as_f64().unwrap() - point).abs() < 1e-12);
            data_loss += point / 9.0;
        }
        assert!((out["data_loss"].as_f64().unwrap() - data_loss).abs() < 1e-12);
        assert!((out["reg_loss"].as_f64().unwrap() - 0.5 * 0.1 * 35.0).abs() < 1e-12);
        assert!((out["loss"].as_f64().unwrap() - data_loss - 1.75).abs() < 1e-12);
        assert_eq!(out["predicted"].as_array().unwrap().len(), 9);
        assert!(out.get("grid").is_none());
    }

    #[test]
    fn per_point_input_gradients_match_centered_differences() {
        let mut problem = nine_points();
        problem["loss"] = json!("softmax");
        let out = loss(problem.to_string().as_bytes()).unwrap();
        let h = 1e-6;
        for i in [0, 4, 8] {
            for d in 0..2 {
                let mut moved = problem.clone();
                let x = moved["inputs"][i][d].as_f64().unwrap();
                moved["inputs"][i][d] = json!(x + h);
                let up = loss(moved.to_string().as_bytes()).unwrap()["point_losses"][i].as_f64();
                moved["inputs"][i][d] = json!(x - h);
                let down = loss(moved.to_string().as_bytes()).unwrap()["point_losses"][i].as_f64();
                let numerical = (up.unwrap() - down.unwrap()) / (2.0 * h);
                let analytic = out["point_input_grads"][i][d].as_f64().unwrap();
                assert!((numerical - analytic).abs() < 1e-7, "{i} {d}: {numerical} {analytic}");
            }
        }
    }

    #[test]
    fn a_step_lowers_the_loss_and_equals_a_hand_step() {
        let mut problem = nine_points();
        let before = loss(problem.to_string().as_bytes()).unwrap();
        problem["learning_rate"] = json!(0.1);
        let after = step(problem.to_string().as_bytes()).unwrap();
        assert!(after["loss"].as_f64() < before["loss"].as_f64());
        assert_eq!(after["losses"], json!([after["loss"]]));
        let w00 = 1.0 - 0.1 * before["grad_weights"][0][0].as_f64().unwrap();
        let b1 = 0.5 - 0.1 * before["grad_bias"][1].as_f64().unwrap();
        assert!((after["weights"][0][0].as_f64().unwrap() - w00).abs() < 1e-15);
        assert!((after["bias"][1].as_f64().unwrap() - b1).abs() < 1e-15);
        // The new parameters' loss is what /api/loss says of them.
        let mut moved = problem.clone();
        moved["weights"] = after["weights"].clone();
        moved["bias"] = after["bias"].clone();
        moved.as_object_mut().unwrap().remove("learning_rate");
        assert_eq!(loss(moved.to_string().as_bytes()).unwrap()["loss"], after["loss"]);

        problem["steps"] = json!(50);
        let many = step(problem.to_string().as_bytes()).unwrap();
        assert_eq!(many["losses"].as_array().unwrap().len(), 50);
        assert!(many["loss"].as_f64() < after["loss"].as_f64());
    }

    #[test]
    fn the_grid_colours_the_plane_by_the_winning_class() {
        // One weight vector per class, no bias: class 0 wins on the right, 1 on the left.
        let problem = json!({
            "weights": [[1.0, 0.0], [-1.0, 0.0]],
            "inputs": [[1.0, 0.0]],
            "labels": [0],
            "grid": {"x": [-1.0, 1.0], "y": [-1.0, 1.0], "size": 4},
        });
        let out = loss(problem.to_string().as_bytes()).unwrap();
        assert_eq!(out["grid"]["classes"], json!([1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0]));
        // Rows run from the top: a class that wins above y = 0 fills the first two rows.
        let problem = json!({
            "weights": [[0.0, 1.0], [0.0, -1.0]],
            "inputs": [[1.0, 0.0]],
            "labels": [0],
            "grid": {"x": [-1.0, 1.0], "y": [-1.0, 1.0], "size": 2},
        });
        let out = loss(problem.to_string().as_bytes()).unwrap();
        assert_eq!(out["grid"]["classes"], json!([0, 0, 1, 1]));
    }

    #[test]
    fn bad_problems_are_400s() {
        let good = nine_points();
        let cases: Vec<(Value, &str)> = vec![
            (json!({"weights": [[1.0]], "inputs": [[1.0, 2.0]], "labels": [0]}), "the same D"),
            (json!({"weights": [[1.0, 2.0]], "inputs": [[1.0, 2.0]], "labels": [3]}), "label"),
            (json!({"weights": [[1.0, 2.0]], "inputs": [[1.0, 2.0]], "labels": []}), "label"),
            (json!({"weights": [], "inputs": [[1.0]], "labels": [0]}), "classes"),
            (json!({"weights": [[1.0]], "inputs": [], "labels": []}), "points"),
            (
                json!({"weights": [[1.0]], "bias": [1.0, 2.0], "inputs": [[1.0]], "labels": [0]}),
                "bias",
            ),
            (
                json!({"weights": [[1.0]], "inputs": [[1.0]], "labels": [0], "loss": "l1"}),
                "unknown loss",
            ),
            (json!({"weights": [[1.0]], "inputs": [[1.0]], "labels": [0], "reg": -1}), "reg"),
            (
                json!({"weights": [[1.0]], "inputs": [[1.0]], "labels": [0], "grid": {"x": [0, 1], "y": [0, 1], "size": 3}}),
                "D = 2",
            ),
            (
                json!({"weights": [[1e300, 1e300]], "inputs": [[1e300, 1e300]], "labels": [0]}),
                "overflow",
            ),
            (
                json!({"weights": [[1.0]], "inputs": [[1.0]], "labels": [0], "steps": 2}),
                "/api/step",
            ),
            (
                json!({"weights": [[1.0]], "inputs": [[1.0]], "labels": [0], "regularization": 2}),
                "unknown field",
            ),
        ];
        for (body, needle) in cases {
            let err = loss(body.to_string().as_bytes()).unwrap_err();
            assert_eq!(err.status, axum::http::StatusCode::BAD_REQUEST);
            assert!(err.message.contains(needle), "{body}: {}", err.message);
        }
        let too_many = json!({
            "weights": [[1.0, 0.0]],
            "inputs": vec![[0.0, 0.0]; MAX_POINTS + 1],
            "labels": vec![0; MAX_POINTS + 1],
        });
        let err = loss(too_many.to_string().as_bytes()).unwrap_err();
        assert!(err.message.contains("more than the limit"), "{}", err.message);
        for (field, value, needle) in [
            ("learning_rate", json!(0.0), "learning_rate"),
            ("learning_rate", json!(-1.0), "learning_rate"),
            ("steps", json!(MAX_STEPS + 1), "steps"),
        ] {
            let mut body = good.clone();
            body["learning_rate"] = json!(0.1);
            body[field] = value;
            let err = step(body.to_string().as_bytes()).unwrap_err();
            assert!(err.message.contains(needle), "{}", err.message);
        }
        let err = preset(br#"{"name": "moons"}"#).unwrap_err();
        assert!(err.message.contains("unknown preset 'moons'"));
    }

    #[test]
    fn presets_are_seeded() {
        for name in ["blobs", "spiral"] {
            let body = |seed: u64| json!({"name": name, "seed": seed}).to_string();
            let a = preset(body(1).as_bytes()).unwrap();
            assert_eq!(a, preset(body(1).as_bytes()).unwrap());
            assert_ne!(a, preset(body(2).as_bytes()).unwrap());
            assert_eq!(a["inputs"].as_array().unwrap().len(), 3 * PER_CLASS);
        }
    }
}
