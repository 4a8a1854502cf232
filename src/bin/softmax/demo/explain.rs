//! The step-by-step page's endpoints: `/api/explain/example` (the seeded problem of
//! `softmax explain`) and `/api/explain` (every intermediate number of a problem, from
//! [`softmax::explain::work`]).

use ndarray::ArrayView2;
use serde::Deserialize;
use serde_json::{Value, json};
use softmax::explain::{ExplainOptions, Step, WorkedExample, example_problem, work};
use softmax::synthetic::Problem;

use super::classifier::rows;
use super::request::{self, ApiError, half_name, softmax_name};

/// The most classes, features or samples: the page's tables must stay readable.
pub const MAX_SIDE: usize = 10;

/// `POST /api/explain/example` body: the seed and shapes, as `softmax explain` takes them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExampleRequest {
    #[serde(default)]
    seed: u64,
    #[serde(default = "three")]
    n_classes: usize,
    #[serde(default = "four")]
    n_features: usize,
    #[serde(default = "two")]
    n_samples: usize,
}

fn three() -> usize {
    3
}

fn four() -> usize {
    4
}

fn two() -> usize {
    2
}

/// `POST /api/explain/example`: W, X and y of the seeded example (by default `softmax
/// explain`'s).
pub fn example(body: &[u8]) -> Result<Value, ApiError> {
    let request: ExampleRequest = request::parse(body)?;
    for (name, count) in [
        ("n_classes", request.n_classes),
        ("n_features", request.n_features),
        ("n_samples", request.n_samples),
    ] {
        request::between_one_and(name, count, MAX_SIDE)?;
    }
    let problem = example_problem(&ExplainOptions {
        seed: request.seed,
        n_classes: request.n_classes,
        n_features: request.n_features,
        n_samples: request.n_samples,
        ..ExplainOptions::default()
    });
    Ok(json!({
        "weights": rows(problem.weights.view()),
        "inputs": rows(problem.inputs.view()),
        "labels": problem.labels,
    }))
}

/// `POST /api/explain` body: W, X, y and the loss.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExplainRequest {
    weights: Vec<Vec<f64>>,
    inputs: Vec<Vec<f64>>,
    labels: Vec<usize>,
    #[serde(default = "softmax_name")]
    loss: String,
    #[serde(default)]
    reg: f64,
    #[serde(default = "half_name")]
    reg_convention: String,
}

/// `POST /api/explain`: every intermediate number of the problem's loss and gradient, and the
/// checks against the library's kernels and a numerical gradient.
pub fn explain(body: &[u8]) -> Result<Value, ApiError> {
    let request: ExplainRequest = request::parse(body)?;
    let terms = request::terms(&request.loss, request.reg, &request.reg_convention)?;
    let max_values = MAX_SIDE * MAX_SIDE;
    let problem = Problem {
        weights: request::matrix("weights", &request.weights, max_values)?,
        inputs: request::matrix("inputs", &request.inputs, max_values)?,
        labels: request.labels,
    };
    request::at_most("classes (rows of weights)", problem.weights.nrows(), MAX_SIDE)?;
    request::at_most("features (columns)", problem.weights.ncols(), MAX_SIDE)?;
    request::at_most("samples (rows of inputs)", problem.inputs.nrows(), MAX_SIDE)?;
    let WorkedExample { worked, checks } =
        work(&problem, terms.loss, terms.reg, terms.reg_convention)?;
    let samples: Vec<Value> = worked
        .steps
        .iter()
        .zip(problem.inputs.rows())
        .map(|(step, x)| {
            let mut sample = match step {
                Step::Softmax(s) => json!({
                    "scores": s.scores, "max": s.max, "shifted": s.shifted, "exps": s.exps,
                    "sum": s.sum, "probs": s.probs,
                }),
                Step::Svm(s) => json!({ "scores": s.scores, "margins": s.margins }),
            };
            sample["coefficients"] = json!(step.coefficients());
            sample["loss"] = json!(step.loss());
            sample["grad"] = json!(rows(step.grad(x).view()));
            sample
        })
        .collect();
    let (penalty_factor, grad_factor) = terms.reg_convention.factors(terms.reg);
    let matrix = |m: ArrayView2<f64>| json!(rows(m));
    Ok(json!({
        "samples": samples,
        "data_loss": worked.data_loss,
        "sum_squares": worked.sum_squares,
        "penalty_factor": penalty_factor,
        "grad_factor": grad_factor,
        "reg_loss": worked.reg_loss,
        "loss": worked.loss,
        "data_grad": matrix(worked.data_grad.view()),
        "reg_grad": matrix(worked.reg_grad.view()),
        "grad": matrix(worked.grad.view()),
        "checks": {
            "kernels": checks.kernels.iter().map(|k| json!({
                "kernel": k.kernel.name(), "loss": k.loss,
                "loss_diff": k.loss_diff, "grad_diff": k.grad_diff,
            })).collect::<Vec<_>>(),
            "max_relative_error": checks.max_relative_error,
            "failures": checks.failures(),
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_example_is_the_commands_and_its_numbers_add_up() {
        let problem = example(b"{}").unwrap();
        let expected = example_problem(&ExplainOptions::default());
        assert_eq!(problem["weights"], json!(rows(expected.weights.view())));
        assert_eq!(problem["labels"], json!(expected.labels));

        let mut body = problem.clone();
        body["reg"] = json!(0.1);
        let out = explain(body.to_string().as_bytes()).unwrap();
        assert_eq!(out["checks"]["failures"], json!([]));
        let samples = out["samples"].as_array().unwrap();
        assert_eq!(samples.len(), 2);
        let probs: Vec<f64> = serde_json::from_value(samples[0]["probs"].clone()).unwrap();
        assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let mean = samples.iter().map(|s| s["loss"].as_f64().unwrap()).sum::<f64>() / 2.0;
        assert!((out["data_loss"].as_f64().unwrap() - mean).abs() < 1e-15);
        let (loss, data, reg) = (&out["loss"], &out["data_loss"], &out["reg_loss"]);
        assert!(
            (loss.as_f64().unwrap() - data.as_f64().unwrap() - reg.as_f64().unwrap()).abs() < 1e-15
        );
        assert_eq!(out["penalty_factor"], json!(0.05));
        assert_eq!(out["grad_factor"], json!(0.1));
        // A sample's gradient row j is c_j · x_i.
        let c = samples[1]["coefficients"][2].as_f64().unwrap();
        let x = body["inputs"][1][3].as_f64().unwrap();
        assert_eq!(samples[1]["grad"][2][3].as_f64().unwrap(), c * x);
    }

    #[test]
    fn svm_samples_show_margins() {
        let mut body = example(br#"{"seed": 3}"#).unwrap();
        body["loss"] = json!("svm");
        let out = explain(body.to_string().as_bytes()).unwrap();
        let label = body["labels"][0].as_u64().unwrap() as usize;
        assert_eq!(out["samples"][0]["margins"][label], Value::Null);
        assert!(out["samples"][0].get("probs").is_none());
    }

    #[test]
    fn bad_examples_are_400s() {
        for (body, needle) in [
            (json!({"n_classes": 0}), "n_classes must be at least 1"),
            (json!({"n_samples": MAX_SIDE + 1}), "more than the limit"),
            (json!({"weights": [[1.0]], "inputs": [[1.0, 2.0]], "labels": [0]}), "weights"),
            (json!({"weights": [[1.0]], "inputs": [[1.0]], "labels": [1]}), "label"),
            (json!({"weights": [[1.0]], "inputs": [[1.0]], "labels": [0], "loss": "x"}), "loss"),
        ] {
            let err = if body.get("weights").is_some() {
                explain(body.to_string().as_bytes())
            } else {
                example(body.to_string().as_bytes())
            }
            .unwrap_err();
            assert!(err.message.contains(needle), "{body}: {}", err.message);
        }
        let wide = json!({"weights": [vec![0.0; 11]], "inputs": [vec![0.0; 11]], "labels": [0]});
        let err = explain(wide.to_string().as_bytes()).unwrap_err();
        assert!(err.message.contains("features"), "{}", err.message);
    }
}
