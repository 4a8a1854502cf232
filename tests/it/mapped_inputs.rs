//! Memory-mapped `npy:` inputs: training on rows read where they lie, with the preprocessing
//! folded into the weights, gives the model that training on the same rows read into memory
//! gives; float16 files train as their values; bad and changing files are refused cleanly.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use half::f16;
use ndarray::Array2;
use softmax::data::{DataSpec, LoadOptions, load, load_mapped};
use softmax::fit::{Dtype, FitOptions, Fitted, fit, fit_mapped};
use softmax::loss::mapped::MappedRows;
use softmax::mapped::MappedMatrix;
use softmax::metrics::{evaluate_mapped_with_top_k, evaluate_with_top_k};
use softmax::preprocess::{Bias, Preprocess, Preprocessor};
use softmax::train::{Duration, Inputs, Objective, Optimizer, TrainOptions};
use softmax::{Error, Kernel, Loss, RegConvention, npy};
use tempfile::TempDir;

use crate::common::{
    assert_per_class_rows, failure, json, relative_difference, text, write_npy, write_npy_vector,
};

const N: usize = 600;
const D: usize = 12;
const C: usize = 4;

/// A problem with class structure: class means ±1.5 in a few features on an offset of 3 (so
/// that centering matters), plus deterministic noise.
fn problem() -> (Array2<f32>, Vec<usize>) {
    let labels: Vec<usize> = (0..N).map(|i| (i * 7 + i / 5) % C).collect();
    let inputs = Array2::from_shape_fn((N, D), |(i, j)| {
        let noise = ((i * 31 + j * 17) as f32 * 0.618).sin() * 2.0;
        let signal = if j % C == labels[i] { 1.5 } else { -0.5 };
        3.0 + signal + noise + 0.1 * j as f32
    });
    (inputs, labels)
}

/// Writes the problem's inputs as float32 `.npy` (or float16, `half`) and its labels as int64.
fn write_problem(dir: &Path, half: bool) -> (PathBuf, PathBuf) {
    let (inputs, labels) = problem();
    let x = dir.join(if half { "x16.npy" } else { "x.npy" });
    if half {
        let bytes: Vec<u8> = inputs.iter().flat_map(|&v| f16::from_f32(v).to_le_bytes()).collect();
        write_npy(&x, "<f2", &format!("({N}, {D})"), &bytes);
    } else {
        npy::write_matrix(&x, inputs.view()).unwrap();
    }
    let y = dir.join("y.npy");
    let bytes: Vec<u8> = labels.iter().flat_map(|&l| (l as i64).to_le_bytes()).collect();
    write_npy_vector(&y, "<i8", N, &bytes);
    (x, y)
}

fn spec(x: &Path, y: &Path) -> DataSpec {
    format!("npy:{},{}", x.display(), y.display()).parse().unwrap()
}

fn options(preprocess: Preprocess, loss: Loss, optimizer: Optimizer) -> FitOptions {
    let duration = match optimizer {
        Optimizer::Lbfgs => None,
        _ => Some(Duration::Epochs(3)),
    };
    // L-BFGS in f64, where the fits agree to 1e-9 (in float32, the folded preprocessing's
    // rounding differs from the copy's by ~1e-7 relative); the minibatch optimizers in float32.
    let dtype = if optimizer == Optimizer::Lbfgs { Dtype::F64 } else { Dtype::F32 };
    FitOptions {
        preprocess,
        loss,
        reg: 1e-3,
        dtype,
        train: TrainOptions { optimizer, duration, batch_size: 32, ..Default::default() },
        ..Default::default()
    }
}

/// Fits the source `spec` read into memory and mapped, with the same options and split.
fn fit_both(spec: &DataSpec, options: FitOptions) -> (Fitted, Fitted) {
    let options = options.check().unwrap();
    let load_options = LoadOptions { val_fraction: 0.2, ..Default::default() };
    let splits = load(spec, &load_options).unwrap();
    let continue_ = &mut |_: &softmax::train::Progress| ControlFlow::Continue(());
    let in_memory = fit(splits.train, splits.validation, &options, continue_).unwrap();
    let mapped = load_mapped(spec, &load_options).unwrap();
    assert_eq!(mapped.train.n_samples() + mapped.validation.as_ref().unwrap().n_samples(), N);
    let mapped = fit_mapped(mapped.train, mapped.validation, &options, continue_).unwrap();
    (in_memory, mapped)
}

#[test]
fn mapped_training_gives_the_model_of_training_in_memory() {
    let dir = TempDir::new().unwrap();
    let (x, y) = write_problem(dir.path(), false);
    let spec = spec(&x, &y);
    for preprocess in
        [Preprocess::Standardize, Preprocess::Center, Preprocess::Scale, Preprocess::None]
    {
        // The hinge loss's passes are compared in the next test: on a loss that is not smooth,
        // L-BFGS turns a difference in the last bits into another path.
        for (loss, optimizer) in
            [(Loss::Softmax, Optimizer::Lbfgs), (Loss::Softmax, Optimizer::Sgd)]
        {
            let (memory, mapped) = fit_both(&spec, options(preprocess, loss, optimizer));
            let case = format!("{preprocess} {loss} {optimizer}");
            // Same data, same split, same arithmetic up to the folding's rounding: L-BFGS trains
            // in float64, SGD in float32.
            let tolerance = if optimizer == Optimizer::Lbfgs { 1e-9 } else { 1e-6 };
            let objective = (memory.objective - mapped.objective).abs() / memory.objective;
            assert!(objective < tolerance, "{case}: {} vs {}", memory.objective, mapped.objective);
            let weights =
                relative_difference(memory.model.weight().view(), mapped.model.weight().view());
            assert!(weights < 1e-3, "{case}: weights differ by {weights}");
            assert_eq!(memory.model.preprocessor().kind, mapped.model.preprocessor().kind);
            let offsets = relative_difference(
                memory.model.preprocessor().offset.view().insert_axis(ndarray::Axis(0)),
                mapped.model.preprocessor().offset.view().insert_axis(ndarray::Axis(0)),
            );
            assert!(offsets < 1e-12, "{case}: preprocessing offsets differ by {offsets}");
            let accuracy = memory.train_accuracy - mapped.train_accuracy;
            assert!(accuracy.abs() <= 2.0 / N as f64, "{case}: {accuracy}");
            if optimizer == Optimizer::Lbfgs {
                assert!(mapped.train_accuracy > 0.8, "{case}: {}", mapped.train_accuracy);
            }
        }
    }
}

#[test]
fn a_pass_over_mapped_rows_equals_one_over_the_preprocessed_matrix() {
    let dir = TempDir::new().unwrap();
    let (x, _) = write_problem(dir.path(), false);
    let (inputs, labels) = problem();
    let matrix = Arc::new(MappedMatrix::open(&x).unwrap());
    let weights =
        Array2::from_shape_fn((C, D + 1), |(c, j)| ((c * 13 + j * 7) as f64 * 0.37).sin());
    for preprocess in [Preprocess::Standardize, Preprocess::Center, Preprocess::Scale] {
        let preprocessor = Preprocessor::fit(preprocess, inputs.view());
        let (offset, scale) = (preprocessor.offset.to_vec(), preprocessor.scale.to_vec());
        let mapped = MappedRows::new(Arc::clone(&matrix), None, &offset, &scale).unwrap();
        let dense = preprocessor.transform_with_bias::<f64>(inputs.view());
        for loss in [Loss::Softmax, Loss::Svm] {
            let objective = |inputs| Objective {
                inputs,
                labels: &labels,
                sample_weights: None,
                loss,
                label_smoothing: 0.0,
                reg: 1e-3,
                reg_convention: RegConvention::Half,
                bias: Bias::Intercept,
                kernel: Kernel::Fused,
            };
            let expected = objective(Inputs::Dense(dense.view())).evaluate(weights.view()).unwrap();
            let got = objective(Inputs::Mapped(&mapped)).evaluate(weights.view()).unwrap();
            let case = format!("{preprocess} {loss}");
            assert!((got.loss - expected.loss).abs() < 1e-12 * expected.loss, "{case}");
            let grad = relative_difference(got.grad.view(), expected.grad.view());
            assert!(grad < 1e-10, "{case}: gradients differ by {grad}");
        }
    }
}

#[test]
fn float16_files_train_on_their_values() {
    let dir = TempDir::new().unwrap();
    let (x16, y) = write_problem(dir.path(), true);
    // The same values, widened to float32 by NumPy's rules, read into memory.
    let (inputs, _) = problem();
    let widened = inputs.mapv(|v| f16::from_f32(v).to_f32());
    let x32 = dir.path().join("x16_as_32.npy");
    npy::write_matrix(&x32, widened.view()).unwrap();
    let options =
        options(Preprocess::Standardize, Loss::Softmax, Optimizer::Lbfgs).check().unwrap();
    let load_options = LoadOptions { val_fraction: 0.2, ..Default::default() };
    let continue_ = &mut |_: &softmax::train::Progress| ControlFlow::Continue(());
    let memory = load(&spec(&x32, &y), &load_options).unwrap();
    let memory = fit(memory.train, memory.validation, &options, continue_).unwrap();
    let mapped = load_mapped(&spec(&x16, &y), &load_options).unwrap();
    assert!(mapped.description.contains("float16"), "{}", mapped.description);
    let mapped = fit_mapped(mapped.train, mapped.validation, &options, continue_).unwrap();
    let objective = (memory.objective - mapped.objective).abs() / memory.objective;
    assert!(objective < 1e-9, "{} vs {}", memory.objective, mapped.objective);
}

/// float64 files are read as float32, as every other way in holds its inputs: the model of a
/// mapped float64 file is the model of its values rounded to float32 (on an offset of 1e8,
/// where float32 keeps steps of 8, so that the rounding shows), and it scores the file the
/// way it was trained. A value beyond float32's range is named as such.
#[test]
fn float64_files_train_on_their_values_rounded_to_float32() {
    let dir = TempDir::new().unwrap();
    let (x32, y) = write_problem(dir.path(), false);
    let (inputs, _) = problem();
    let wide = inputs.mapv(|v| 1e8 + 4.0 * f64::from(v));
    let bytes =
        |values: &Array2<f64>| -> Vec<u8> { values.iter().flat_map(|v| v.to_le_bytes()).collect() };
    let x64 = dir.path().join("x64.npy");
    write_npy(&x64, "<f8", &format!("({N}, {D})"), &bytes(&wide));
    npy::write_matrix(&x32, wide.mapv(|v| v as f32).view()).unwrap();
    let options = options(Preprocess::Standardize, Loss::Softmax, Optimizer::Lbfgs);
    let options = FitOptions { dtype: Dtype::F64, ..options }.check().unwrap();
    let load_options = LoadOptions { val_fraction: 0.0, ..Default::default() };
    let continue_ = &mut |_: &softmax::train::Progress| ControlFlow::Continue(());
    let memory = load(&spec(&x32, &y), &load_options).unwrap();
    let memory = fit(memory.train, None, &options, continue_).unwrap();
    let mapped = load_mapped(&spec(&x64, &y), &load_options).unwrap();
    let train = mapped.train.clone();
    let mapped = fit_mapped(mapped.train, None, &options, continue_).unwrap();
    let objective = (memory.objective - mapped.objective).abs() / memory.objective;
    assert!(objective < 1e-9, "{} vs {}", memory.objective, mapped.objective);
    let (evaluation, _) = evaluate_mapped_with_top_k(&mapped.model, &train, None).unwrap();
    assert_eq!(evaluation.accuracy, mapped.train_accuracy);

    let mut big = wide;
    big[[2, 1]] = 5e38;
    write_npy(&x64, "<f8", &format!("({N}, {D})"), &bytes(&big));
    let mapped = load_mapped(&spec(&x64, &y), &load_options).unwrap();
    let err = fit_mapped(mapped.train, None, &options, continue_).unwrap_err().to_string();
    assert!(err.contains("sample 2, feature 1: 5e38 overflows float32"), "{err}");
}

#[test]
fn the_command_line_maps_npy_sources_and_reports_its_memory() {
    let dir = TempDir::new().unwrap();
    let (x, y) = write_problem(dir.path(), true);
    let data = format!("npy:{},{}", text(&x), text(&y));
    let model = dir.path().join("m.safetensors");
    let out = json(&["train", "--data", &data, "--model", &text(&model), "--quiet"]);
    assert!(out["data"].as_str().unwrap().contains("mapped, float16"), "{out}");
    assert!(out["train_accuracy"].as_f64().unwrap() > 0.8, "{out}");
    let rss = out["rss_anon_bytes"].as_u64().expect("anonymous resident memory on Linux");
    assert!(rss > 0 && rss < 1 << 30, "{out}");
    // The saved model predicts the raw rows, as any model does.
    let eval = json(&["eval", "--model", &text(&model), "--data", &data, "--val-fraction", "0"]);
    assert!(eval["accuracy"].as_f64().unwrap() > 0.8, "{eval}");
    // `predict` maps a float `.npy` file too, a chunk of rows at a time: its predictions are the
    // library's on the rows read into memory; a file of another width is refused naming it.
    let out = dir.path().join("p.npy");
    json(&["predict", "--model", &text(&model), "--inputs", &text(&x), "--out", &text(&out)]);
    let predicted: Vec<i64> =
        npyz::NpyFile::new(&std::fs::read(&out).unwrap()[..]).unwrap().into_vec().unwrap();
    let loaded = softmax::model::Model::load(&model).unwrap();
    let in_memory = loaded.predict(loaded.load_inputs(&x).unwrap().view()).unwrap();
    assert_eq!(predicted, in_memory.iter().map(|&c| c as i64).collect::<Vec<_>>());
    let narrow = dir.path().join("narrow.npy");
    npy::write_matrix(&narrow, Array2::<f32>::zeros((3, D - 1)).view()).unwrap();
    let stderr = failure(&["predict", "--model", &text(&model), "--inputs", &text(&narrow)]);
    assert!(stderr.contains("narrow.npy: 11 columns: the model expects 12 features"), "{stderr}");
}

#[test]
fn bad_mapped_files_are_refused_naming_the_file() {
    let dir = TempDir::new().unwrap();
    let (x, y) = write_problem(dir.path(), false);
    let bytes = std::fs::read(&x).unwrap();
    let truncated = dir.path().join("truncated.npy");
    std::fs::write(&truncated, &bytes[..bytes.len() - 10]).unwrap();
    let fortran = dir.path().join("fortran.npy");
    let (from, to) = (b"'fortran_order': False", b"'fortran_order': True ");
    let at = bytes.windows(from.len()).position(|w| w == from).unwrap();
    std::fs::write(&fortran, [&bytes[..at], to, &bytes[at + from.len()..]].concat()).unwrap();
    let short_labels = dir.path().join("short.npy");
    write_npy_vector(&short_labels, "<i8", 2, &[0; 16]);
    let nan = dir.path().join("nan.npy");
    let (mut inputs, _) = problem();
    inputs[[17, 3]] = f32::NAN;
    npy::write_matrix(&nan, inputs.view()).unwrap();
    // Text, as np.save(path, a.astype(str)) writes it: 'U2' is 2 characters of 4 bytes.
    let (text_inputs, text_labels) = (dir.path().join("text_x.npy"), dir.path().join("text_y.npy"));
    write_npy(&text_inputs, "<U2", &format!("({N}, {D})"), &vec![0; N * D * 8]);
    write_npy_vector(&text_labels, "<U2", N, &vec![0; N * 8]);
    let cases = [
        (&truncated, &y, "it is truncated"),
        (&fortran, &y, "Fortran order"),
        (&x, &short_labels, "2 labels for the 600 samples"),
        (&nan, &y, "sample 17, feature 3"),
        (&text_inputs, &y, "unsupported dtype '<U2': text, where numbers are expected"),
        (&x, &text_labels, "unsupported dtype '<U2': text, where numbers are expected"),
    ];
    for (x, y, expected) in cases {
        let data = format!("npy:{},{}", text(x), text(y));
        let err = failure(&["train", "--data", &data, "--quiet"]);
        assert!(err.contains(expected), "{err}");
        let at_fault = if expected.contains("labels") || y.ends_with("text_y.npy") { y } else { x };
        assert!(err.contains(&text(at_fault)), "{err}");
    }
}

#[test]
fn a_file_cut_short_while_training_stops_it_with_an_error() {
    let dir = TempDir::new().unwrap();
    let (x, y) = write_problem(dir.path(), false);
    let options = options(Preprocess::Scale, Loss::Softmax, Optimizer::Lbfgs).check().unwrap();
    let splits = load_mapped(&spec(&x, &y), &LoadOptions::default()).unwrap();
    let mut calls = 0;
    let result = fit_mapped(splits.train, splits.validation, &options, &mut |_| {
        calls += 1;
        if calls == 2 {
            let file = std::fs::OpenOptions::new().write(true).open(&x).unwrap();
            file.set_len(1000).unwrap();
        }
        ControlFlow::Continue(())
    });
    match result {
        Err(Error::File { path, message }) => {
            assert_eq!(path, x);
            assert!(message.contains("changed while training"), "{message}");
        }
        other => panic!("expected the file's error, got {other:?}"),
    }
}

/// `eval` on an `npy:` source reads the mapped rows a chunk at a time instead of copying X: on
/// each split, from float32 and float16 files, the evaluation (and top-k accuracy) is the one of
/// the same rows read into memory, to the last bit. 2,500 rows: more than a chunk of scores.
/// Writes a problem that a linear model gets about 70% right (a weak signal in uniform noise),
/// float32, 2,500 × D, and its labels: X's and y's paths.
fn write_noisy_problem(dir: &Path) -> (PathBuf, PathBuf) {
    let n = 2500;
    let labels: Vec<usize> = (0..n).map(|i| (i * 7 + i / 5) % C).collect();
    let inputs = Array2::from_shape_fn((n, D), |(i, j)| {
        let signal = if j % C == labels[i] { 0.5 } else { 0.0 };
        let noise = ((i * 2_654_435_761 + j * 40_503) % 1000) as f32 / 250.0 - 2.0; // in [−2, 2)
        noise + signal
    });
    let x = dir.join("x32.npy");
    npy::write_matrix(&x, inputs.view()).unwrap();
    let y = dir.join("y.npy");
    let bytes: Vec<u8> = labels.iter().flat_map(|&l| (l as i64).to_le_bytes()).collect();
    write_npy_vector(&y, "<i8", n, &bytes);
    (x, y)
}

#[test]
fn mapped_evaluation_equals_the_evaluation_in_memory() {
    let dir = TempDir::new().unwrap();
    let (x32, y) = write_noisy_problem(dir.path());
    let inputs = npy::read_matrix(&x32).unwrap().to_f64();
    let x16 = dir.path().join("x16.npy");
    let halves: Vec<u8> = inputs.iter().flat_map(|&v| f16::from_f64(v).to_le_bytes()).collect();
    write_npy(&x16, "<f2", &format!("({}, {D})", inputs.nrows()), &halves);
    let load_options = LoadOptions { val_fraction: 0.2, ..Default::default() };
    let options = FitOptions { reg: 1e-2, ..Default::default() }.check().unwrap();
    let continue_ = &mut |_: &softmax::train::Progress| ControlFlow::Continue(());
    let splits = load(&spec(&x32, &y), &load_options).unwrap();
    let model = fit(splits.train, splits.validation, &options, continue_).unwrap().model;
    for x in [&x32, &x16] {
        let in_memory = load(&spec(x, &y), &load_options).unwrap();
        let mapped = load_mapped(&spec(x, &y), &load_options).unwrap();
        let pairs = [
            (in_memory.train, mapped.train),
            (in_memory.validation.unwrap(), mapped.validation.unwrap()),
        ];
        for (in_memory, mapped) in pairs {
            let expected = evaluate_with_top_k(&model, &in_memory, Some(2)).unwrap();
            let got = evaluate_mapped_with_top_k(&model, &mapped, Some(2)).unwrap();
            assert_eq!(got, expected, "{}", x.display());
            let (accuracy, top_2) = (expected.0.accuracy, expected.1.unwrap());
            assert!(accuracy > 0.5 && accuracy < top_2 && top_2 < 1.0, "{accuracy} {top_2}");
        }
    }
    // Classes are aligned to the model's by name, as in memory: here the same order.
    let mapped = load_mapped(&spec(&x32, &y), &load_options).unwrap();
    let aligned = mapped.train.clone().align_classes(model.class_names()).unwrap();
    assert_eq!(aligned.labels, mapped.train.labels);
    let mut fewer = model.class_names().to_vec();
    fewer.pop();
    assert!(mapped.train.align_classes(&fewer).is_err());
}

/// A report on a mapped split (read a chunk of rows at a time, never whole) is the report on the
/// same split read into memory, byte for byte; `train --report` and `report` on an `npy:` source
/// show the split `eval` evaluates.
#[test]
fn reports_on_mapped_splits_equal_reports_on_splits_in_memory() {
    use softmax::metrics::{evaluate_mapped_scored, evaluate_scored};
    use softmax::report::{Evaluated, Report, SplitData};
    let dir = TempDir::new().unwrap();
    let (x, y) = write_noisy_problem(dir.path());
    let load_options = LoadOptions { val_fraction: 0.25, ..Default::default() };
    let options = FitOptions { reg: 1e-2, ..Default::default() }.check().unwrap();
    let continue_ = &mut |_: &softmax::train::Progress| ControlFlow::Continue(());
    let splits = load(&spec(&x, &y), &load_options).unwrap();
    let model = fit(splits.train, splits.validation, &options, continue_).unwrap().model;
    let in_memory = load(&spec(&x, &y), &load_options).unwrap().validation.unwrap();
    let mapped = load_mapped(&spec(&x, &y), &load_options).unwrap().validation.unwrap();
    let (evaluation, scored) = evaluate_scored(&model, &in_memory, None).unwrap();
    assert!(evaluation.accuracy > 0.5 && evaluation.accuracy < 1.0, "{}", evaluation.accuracy);
    let (mapped_evaluation, mapped_scored) = evaluate_mapped_scored(&model, &mapped, None).unwrap();
    assert_eq!((&mapped_evaluation, &mapped_scored), (&evaluation, &scored));
    let page = |name: &str, data: SplitData| {
        let (evaluation, scored) = match &data {
            SplitData::Loaded(data) => evaluate_scored(&model, data, None).unwrap(),
            SplitData::Mapped(data) => evaluate_mapped_scored(&model, data, None).unwrap(),
        };
        let evaluated = Evaluated {
            split: "validation".into(),
            source: "the problem".into(),
            data,
            evaluation,
            scored,
        };
        let report = Report {
            title: "Model report".into(),
            model: &model,
            model_path: None,
            data_description: "the problem",
            summary: Vec::new(),
            evaluated: &evaluated,
            history: None,
            tuning: None,
        };
        report.write(&dir.path().join(name)).unwrap();
        std::fs::read_to_string(dir.path().join(name).join("report.html")).unwrap()
    };
    let read = page("read", SplitData::Loaded(in_memory));
    assert!(read.contains("<div class=\"sample wrong\">"), "mistakes are shown");
    assert_eq!(page("mapped", SplitData::Mapped(mapped)), read);

    let data = format!("npy:{},{}", text(&x), text(&y));
    let model = dir.path().join("m.safetensors");
    let trained = dir.path().join("trained");
    let (model_arg, trained_arg) = (text(&model), text(&trained));
    json(&["train", "--data", &data, "--model", &model_arg, "--report", &trained_arg, "--quiet"]);
    let eval = json(&["eval", "--model", &model_arg, "--data", &data]);
    let reported = dir.path().join("reported");
    json(&["report", "--model", &model_arg, "--data", &data, "--out", &text(&reported)]);
    for folder in [&trained, &reported] {
        let html = std::fs::read_to_string(folder.join("report.html")).unwrap();
        assert!(html.contains("On the validation split of npy:"), "{}", folder.display());
        assert_per_class_rows(&html, &eval);
    }
}
