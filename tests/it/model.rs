//! Trained models and their evaluation: scores, predictions and probabilities worked by hand,
//! the safetensors file (round trips, atomic writes, corrupt and hostile files), metrics on a
//! hand-made confusion, and a Python reader (`tests/fixtures/model/read_model.py`).

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2, array};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use serde_json::json;
use softmax::data::{Dataset, ImageShape};
use softmax::metrics::{ClassMetrics, evaluate};
use softmax::model::{Model, ModelParts, Precision};
use softmax::preprocess::{Bias, Preprocess, Preprocessor};
use softmax::{Error, Loss, RegConvention};

/// C = 3 classes, D = 2 features: x' = (x − [1, 2]) / [2, 4], scores = W x' + b with
/// W = [[1, 0], [0, 1], [−1, −1]] and b = [0.5, 0, −1].
fn hand_model() -> Model {
    Model::new(hand_parts()).unwrap()
}

fn hand_parts() -> ModelParts {
    ModelParts {
        weight: array![[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]],
        bias: array![0.5, 0.0, -1.0],
        preprocessor: Preprocessor {
            kind: Preprocess::Standardize,
            offset: array![1.0, 2.0],
            scale: array![2.0, 4.0],
        },
        class_names: names(&["cat", "dog", "bird"]),
        feature_names: Some(names(&["height", "weight"])),
        image_shape: None,
        loss: Loss::Softmax,
        reg: 1e-3,
        reg_convention: RegConvention::Half,
        bias_mode: Bias::Intercept,
        precision: Precision::F64,
        training: json!({"optimizer": "lbfgs", "seed": 7, "reg": 1e-3}),
    }
}

/// Raw inputs whose preprocessed rows are x' = [1, 1], [0, 1], [−2, −2] and [0, 0.5].
fn hand_inputs() -> Array2<f32> {
    array![[3.0, 6.0], [1.0, 6.0], [-3.0, -6.0], [1.0, 4.0]]
}

/// W x' + b for [`hand_inputs`], row by row.
fn hand_scores() -> Array2<f64> {
    array![
        [1.0 + 0.5, 1.0, -1.0 - 1.0 - 1.0],
        [0.0 + 0.5, 1.0, -0.0 - 1.0 - 1.0],
        [-2.0 + 0.5, -2.0, 2.0 + 2.0 - 1.0],
        [0.0 + 0.5, 0.5, -0.0 - 0.5 - 1.0],
    ]
}

fn names(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

/// A model of another shape and every option changed: svm, full, trick, center, an image.
fn image_model(precision: Precision) -> Model {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (n_classes, n_features) = (4, 2 * 3 * 2);
    let mut random = |n| Array1::from_shape_fn(n, |_| rng.random_range(-2.0..2.0));
    let parts = ModelParts {
        weight: random(n_classes * n_features)
            .into_shape_with_order((n_classes, n_features))
            .unwrap(),
        bias: random(n_classes),
        preprocessor: Preprocessor {
            kind: Preprocess::Center,
            offset: random(n_features) * 100.0,
            scale: Array1::ones(n_features),
        },
        class_names: names(&["plane", "car", "bird, small", "ünïcode"]),
        feature_names: None,
        image_shape: Some(ImageShape { channels: 2, height: 3, width: 2 }),
        loss: Loss::Svm,
        reg: 2.5e-5,
        reg_convention: RegConvention::Full,
        bias_mode: Bias::Trick,
        precision,
        training: json!({"optimizer": "sgd", "learning_rate": 1e-7, "nested": {"list": [1, 2]}}),
    };
    Model::new(parts).unwrap()
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

/// The names in a folder, sorted.
fn entries(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn file_error_message(result: softmax::Result<Model>, path: &Path) -> String {
    match result {
        Err(err @ Error::File { .. }) => {
            let message = err.to_string();
            assert!(message.starts_with(&path.display().to_string()), "{message}");
            message
        }
        other => panic!("expected a file error, got {other:?}"),
    }
}

// ---- the model's arithmetic ----

#[test]
fn scores_predictions_and_probabilities_by_hand() {
    let model = hand_model();
    assert_eq!((model.n_classes(), model.n_features()), (3, 2));
    let scores = model.scores(hand_inputs().view()).unwrap();
    approx::assert_abs_diff_eq!(scores, hand_scores(), epsilon = 1e-15);
    // Row 3 ties classes 0 and 1 at 0.5: the lowest index wins.
    assert_eq!(model.predict(hand_inputs().view()).unwrap(), vec![0, 1, 2, 0]);

    let probabilities = model.predict_probabilities(hand_inputs().view()).unwrap();
    for (row, expected_scores) in probabilities.rows().into_iter().zip(hand_scores().rows()) {
        let sum: f64 = expected_scores.iter().map(|f| f.exp()).sum();
        for (p, f) in row.iter().zip(expected_scores) {
            approx::assert_relative_eq!(*p, f.exp() / sum, max_relative = 1e-14);
        }
    }
    // p = e^{0.5} / (e^{0.5} + e^{0.5} + e^{−1.5}) for both tied classes of row 3.
    let tied = 0.5f64.exp() / (2.0 * 0.5f64.exp() + (-1.5f64).exp());
    approx::assert_relative_eq!(probabilities[[3, 0]], tied, max_relative = 1e-14);
    approx::assert_relative_eq!(probabilities[[3, 1]], tied, max_relative = 1e-14);
}

/// Scores of more rows than one chunk (the model preprocesses 1,024 rows at a time) equal
/// W·x' + b computed on all rows at once, bit for bit.
#[test]
fn scores_of_many_rows_equal_the_whole_matrix_product() {
    let model = image_model(Precision::F64);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let inputs = Array2::from_shape_simple_fn((2500, model.n_features()), || rng.random::<f32>());
    let scores = model.scores(inputs.view()).unwrap();
    let transformed = model.preprocessor().transform_with_bias::<f64>(inputs.view());
    let features = transformed.slice(ndarray::s![.., ..model.n_features()]);
    let expected = features.dot(&model.weight().t()) + model.bias();
    assert_eq!(scores, expected);
}

#[test]
fn probabilities_of_scores_in_the_thousands_are_finite() {
    let mut parts = hand_parts();
    parts.weight *= 1000.0;
    let model = Model::new(parts).unwrap();
    let probabilities = model.predict_probabilities(hand_inputs().view()).unwrap();
    assert!(probabilities.iter().all(|p| p.is_finite()));
    // Row 0: scores [1000.5, 1000, −2001]: p_0 = 1 / (1 + e^{−0.5}), p_2 = 0.
    approx::assert_relative_eq!(
        probabilities[[0, 0]],
        1.0 / (1.0 + (-0.5f64).exp()),
        max_relative = 1e-14
    );
    assert_eq!(probabilities[[0, 2]], 0.0);
    for row in probabilities.rows() {
        approx::assert_relative_eq!(row.sum(), 1.0, max_relative = 1e-15);
    }
}

#[test]
fn inputs_with_another_number_of_features_are_refused() {
    let inputs = Array2::<f32>::zeros((4, 3));
    let err = hand_model().scores(inputs.view()).unwrap_err();
    assert!(
        matches!(err, Error::FeatureMismatch { weights_features: 2, inputs_features: 3, .. }),
        "{err}"
    );
}

#[test]
fn non_finite_inputs_are_located() {
    let mut inputs = hand_inputs();
    inputs[[2, 1]] = f32::NAN;
    let err = hand_model().predict(inputs.view()).unwrap_err();
    assert!(matches!(&err, Error::NonFinite { what: "inputs", .. }), "{err}");
    assert!(err.to_string().contains("sample 2, feature 1"), "{err}");
}

/// Parts that disagree make no model: each change to the hand model's parts is refused with
/// the disagreement named.
#[test]
fn inconsistent_parts_make_no_model() {
    type Edit = fn(&mut ModelParts);
    let cases: [(Edit, &str); 9] = [
        (|p| p.bias = array![0.0, 1.0], "bias has shape [2], expected [C] = [3]"),
        (|p| p.weight = Array2::zeros((2, 2)), "weight has shape [2, 2], expected [C, D] = [3, 2]"),
        (|p| p.preprocessor.scale = array![1.0], "preprocess_scale has shape [1], expected [D]"),
        (|p| p.class_names.clear(), "a model needs classes and features, got C = 0"),
        (|p| p.class_names[2] = "cat".into(), "class name 'cat' appears twice"),
        (|p| p.feature_names = Some(names(&["x"])), "1 feature names for D = 2"),
        (|p| p.weight[[0, 1]] = f64::NAN, "weight holds NaN at [0, 1]: every value must be finite"),
        (|p| p.preprocessor.scale[1] = -1.0, "preprocess_scale of feature 1 is -1"),
        (|p| p.reg = -1.0, "reg must be finite and >= 0"),
    ];
    for (change, expected) in cases {
        let mut parts = hand_parts();
        change(&mut parts);
        let err = Model::new(parts).unwrap_err();
        assert!(matches!(&err, Error::InconsistentModel(m) if m.contains(expected)), "{err}");
    }
    let model = hand_model();
    assert_eq!(Model::new(model.clone().into_parts()).unwrap(), model);
}

// ---- the file ----

#[test]
fn save_then_load_is_exact_in_float64() {
    let dir = temp_dir();
    for model in [hand_model(), image_model(Precision::F64)] {
        let path = dir.path().join("model.safetensors");
        model.save(&path).unwrap();
        assert_eq!(Model::load(&path).unwrap(), model);
    }
}

#[test]
fn save_then_load_in_float32_equals_the_cast_values() {
    let dir = temp_dir();
    let path = dir.path().join("model.safetensors");
    let model = image_model(Precision::F32);
    model.save(&path).unwrap();
    let loaded = Model::load(&path).unwrap();
    let cast = |a: &Array1<f64>| a.mapv(|v| v as f32 as f64);
    let parts = model.clone().into_parts();
    let expected = Model::new(ModelParts {
        weight: parts.weight.mapv(|v| v as f32 as f64),
        bias: cast(&parts.bias),
        preprocessor: Preprocessor {
            kind: parts.preprocessor.kind,
            offset: cast(&parts.preprocessor.offset),
            scale: cast(&parts.preprocessor.scale),
        },
        ..parts.clone()
    })
    .unwrap();
    assert_ne!(expected, model, "the cast must change something for this test to mean anything");
    assert_eq!(loaded, expected);
    // The tensors are stored as F32: 4 bytes per value.
    let bytes = fs::read(&path).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(file.tensor("weight").unwrap().dtype(), Dtype::F32);
    assert_eq!(file.tensor("weight").unwrap().data().len(), 4 * 4 * 12);
}

#[test]
fn the_file_holds_the_documented_metadata() {
    let dir = temp_dir();
    let path = dir.path().join("model.safetensors");
    hand_model().save(&path).unwrap();
    let bytes = fs::read(&path).unwrap();
    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    let metadata = header.metadata().clone().unwrap();
    let expected: HashMap<String, String> = [
        ("format", "softmax-linear-classifier"),
        ("format_version", "1"),
        ("class_names", r#"["cat","dog","bird"]"#),
        ("feature_names", r#"["height","weight"]"#),
        ("preprocess", "standardize"),
        ("bias", "intercept"),
        ("loss", "softmax"),
        ("reg", "0.001"),
        ("reg_convention", "half"),
        ("dtype", "float64"),
        ("training", r#"{"optimizer":"lbfgs","seed":7,"reg":0.001}"#),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(metadata, expected);
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let mut tensors: Vec<(String, Vec<usize>)> =
        file.tensors().into_iter().map(|(name, t)| (name, t.shape().to_vec())).collect();
    tensors.sort();
    assert_eq!(
        tensors,
        vec![
            ("bias".to_string(), vec![3]),
            ("preprocess_offset".to_string(), vec![2]),
            ("preprocess_scale".to_string(), vec![2]),
            ("weight".to_string(), vec![3, 2]),
        ]
    );
}

/// The same model saved again gives the same bytes, with the metadata's keys in sorted order
/// (the safetensors crate alone orders them by a hash map's random state).
#[test]
fn saving_the_same_model_writes_the_same_bytes() {
    let dir = temp_dir();
    let model = image_model(Precision::F64);
    let saves: Vec<Vec<u8>> = (0..6)
        .map(|i| {
            let path = dir.path().join(format!("model{i}.safetensors"));
            model.save(&path).unwrap();
            fs::read(&path).unwrap()
        })
        .collect();
    assert!(saves.iter().all(|bytes| *bytes == saves[0]));
    let header_len = u64::from_le_bytes(saves[0][..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&saves[0][8..8 + header_len]).unwrap();
    let keys: Vec<&String> = header["__metadata__"].as_object().unwrap().keys().collect();
    assert!(keys.is_sorted() && keys.len() >= 10, "{keys:?}");
    assert_eq!(Model::load(&dir.path().join("model5.safetensors")).unwrap(), model);
}

#[test]
fn a_value_too_large_for_float32_is_refused_on_save() {
    let dir = temp_dir();
    let path = dir.path().join("model.safetensors");
    let mut parts = hand_parts();
    parts.precision = Precision::F32;
    parts.weight[[1, 0]] = 1e300;
    let err = Model::new(parts).unwrap().save(&path).unwrap_err();
    assert!(err.to_string().contains("too large for a float32 model"), "{err}");
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn a_failed_save_leaves_the_existing_file_and_no_temporary_files() {
    let dir = temp_dir();
    let path = dir.path().join("model.safetensors");
    image_model(Precision::F64).save(&path).unwrap();
    let before = fs::read(&path).unwrap();

    let mut bad = hand_parts();
    bad.precision = Precision::F32;
    bad.bias[0] = -1e39;
    let err = Model::new(bad).unwrap().save(&path).unwrap_err();
    assert!(err.to_string().contains("too large for a float32 model"), "{err}");

    assert_eq!(fs::read(&path).unwrap(), before);
    assert_eq!(entries(dir.path()), ["model.safetensors"]);

    // A successful save replaces it, and leaves nothing else behind.
    hand_model().save(&path).unwrap();
    assert_eq!(Model::load(&path).unwrap(), hand_model());
    assert_eq!(entries(dir.path()), ["model.safetensors"]);
}

#[test]
fn saving_into_a_missing_folder_or_over_a_folder_fails_cleanly() {
    let dir = temp_dir();
    let missing = dir.path().join("missing").join("model.safetensors");
    let err = hand_model().save(&missing).unwrap_err();
    assert!(matches!(&err, Error::Io { path, .. } if path == &missing), "{err}");

    let folder = dir.path().join("model.safetensors");
    fs::create_dir(&folder).unwrap();
    fs::write(folder.join("inside"), b"kept").unwrap();
    let err = hand_model().save(&folder).unwrap_err();
    assert!(matches!(&err, Error::Io { path, .. } if path == &folder), "{err}");
    assert_eq!(entries(&folder), ["inside"]);
    assert_eq!(fs::read(folder.join("inside")).unwrap(), b"kept");
    assert_eq!(entries(dir.path()), ["model.safetensors"]);
}

#[test]
fn a_missing_file_is_an_io_error_naming_it() {
    let dir = temp_dir();
    let path = dir.path().join("nowhere.safetensors");
    let err = Model::load(&path).unwrap_err();
    assert!(matches!(&err, Error::Io { path: p, .. } if p == &path), "{err}");
}

#[test]
fn files_that_are_not_safetensors_are_named_as_such() {
    let dir = temp_dir();
    let npy = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/W_f64.npy");
    let cases: [(&str, Vec<u8>); 4] = [
        ("empty", vec![]),
        ("text", b"this is not a model\n".to_vec()),
        ("npy", fs::read(npy).unwrap()),
        ("huge header length", u64::MAX.to_le_bytes().to_vec()),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        fs::write(&path, bytes).unwrap();
        let message = file_error_message(Model::load(&path), &path);
        assert!(message.contains("not a safetensors model file"), "{name}: {message}");
    }
}

/// A tensor to write with [`write_file`]: name, dtype, shape, little-endian bytes.
type RawTensor = (String, Dtype, Vec<usize>, Vec<u8>);

/// The tensors and metadata of a saved model, to edit into a bad file.
fn parts(model: &Model) -> (Vec<RawTensor>, HashMap<String, String>) {
    let dir = temp_dir();
    let path = dir.path().join("model.safetensors");
    model.save(&path).unwrap();
    let bytes = fs::read(&path).unwrap();
    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let tensors = file
        .tensors()
        .into_iter()
        .map(|(name, t)| (name, t.dtype(), t.shape().to_vec(), t.data().to_vec()))
        .collect();
    (tensors, header.metadata().clone().unwrap())
}

/// Writes a safetensors file of these tensors and metadata.
fn write_file(path: &Path, tensors: &[RawTensor], metadata: Option<HashMap<String, String>>) {
    let views = tensors.iter().map(|(name, dtype, shape, bytes)| {
        (name.clone(), TensorView::new(*dtype, shape.clone(), bytes).unwrap())
    });
    fs::write(path, safetensors::serialize(views, metadata).unwrap()).unwrap();
}

fn f64_bytes(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A change that turns a model file into a bad one.
enum Change {
    SetMetadata(&'static str, &'static str),
    RemoveMetadata(&'static str),
    EditTensor(&'static str, fn(&mut RawTensor)),
    RemoveTensor(&'static str),
}

impl Change {
    fn apply(&self, tensors: &mut Vec<RawTensor>, metadata: &mut HashMap<String, String>) {
        match *self {
            Change::SetMetadata(key, value) => drop(metadata.insert(key.into(), value.into())),
            Change::RemoveMetadata(key) => drop(metadata.remove(key)),
            Change::EditTensor(name, edit) => {
                edit(tensors.iter_mut().find(|t| t.0 == name).unwrap())
            }
            Change::RemoveTensor(name) => tensors.retain(|t| t.0 != name),
        }
    }
}

/// The error of loading a bad file: its message, which must name the file, for a file that is
/// not a model ([`Error::File`]) or one whose parts disagree ([`Error::InconsistentModel`]).
fn load_error_message(path: &Path, inconsistent: bool) -> String {
    match Model::load(path) {
        Err(err @ Error::InconsistentModel(_)) if inconsistent => {
            let message = err.to_string();
            assert!(message.contains(&path.display().to_string()), "{message}");
            message
        }
        result if !inconsistent => file_error_message(result, path),
        other => panic!("expected an inconsistent model, got {other:?}"),
    }
}

#[test]
fn well_formed_safetensors_files_with_bad_contents_are_refused() {
    use Change::*;
    // Not a model, or a model that cannot be read: Error::File.
    let unreadable = [
        (EditTensor("weight", |t| t.2 = vec![6]), "tensor 'weight' has shape [6], expected [C, D]"),
        (RemoveTensor("weight"), "tensor 'weight' is missing"),
        (RemoveTensor("bias"), "tensor 'bias' is missing"),
        (
            EditTensor("preprocess_scale", |t| {
                (t.1, t.3) = (Dtype::F32, [1f32; 2].iter().flat_map(|v| v.to_le_bytes()).collect())
            }),
            "tensor 'preprocess_scale' is F32, but the metadata's dtype says F64",
        ),
        (EditTensor("preprocess_scale", |t| t.1 = Dtype::I64), "tensor 'preprocess_scale' is I64"),
        (SetMetadata("format", "pytorch"), "not a softmax model: its format is 'pytorch'"),
        (RemoveMetadata("format"), "not a softmax model: a safetensors file without"),
        (
            SetMetadata("format_version", "2"),
            "model format version 2 is newer than this build of softmax reads (version 1)",
        ),
        (SetMetadata("format_version", "0"), "unknown model format version '0'"),
        (RemoveMetadata("format_version"), "no 'format_version' entry"),
        (SetMetadata("class_names", "cat,dog,bird"), "metadata 'class_names'"),
        (SetMetadata("image_shape", r#"{"channels":1}"#), "metadata 'image_shape'"),
        (SetMetadata("loss", "hinge"), "metadata 'loss': invalid option: unknown loss 'hinge'"),
        (SetMetadata("preprocess", "whiten"), "unknown preprocessing 'whiten'"),
        (
            SetMetadata("dtype", "bfloat16"),
            "unknown dtype 'bfloat16': expected one of float32, float64",
        ),
        (
            SetMetadata("dtype", "float32"),
            "tensor 'weight' is F64, but the metadata's dtype says F32",
        ),
        (SetMetadata("training", "{"), "metadata 'training'"),
        (RemoveMetadata("loss"), "the metadata has no 'loss' entry"),
    ];
    // A model whose parts disagree: Error::InconsistentModel.
    let inconsistent = [
        (
            EditTensor("weight", |t| t.2 = vec![2, 3]),
            "weight has shape [2, 3], expected [C, D] = [3, 3] with C = 3",
        ),
        (
            EditTensor("bias", |t| (t.2, t.3) = (vec![2], f64_bytes(&[1.0, 2.0]))),
            "bias has shape [2], expected [C] = [3]",
        ),
        (
            EditTensor("preprocess_offset", |t| t.3 = f64_bytes(&[0.0, f64::NAN])),
            "preprocess_offset holds NaN at [1]: every value must be finite",
        ),
        (
            EditTensor("preprocess_scale", |t| t.3 = f64_bytes(&[1.0, 0.0])),
            "preprocess_scale of feature 1 is 0: scales must be > 0",
        ),
        (SetMetadata("class_names", r#"["a","b"]"#), "expected [C, D] = [2, 2] with C = 2"),
        (SetMetadata("class_names", "[]"), "a model needs classes and features, got C = 0"),
        (SetMetadata("class_names", r#"["a","b","a"]"#), "class name 'a' appears twice"),
        (SetMetadata("feature_names", r#"["x"]"#), "1 feature names for D = 2"),
        (SetMetadata("image_shape", r#"{"channels":1,"height":1,"width":3}"#), "3 image pixels"),
        (SetMetadata("reg", "-1"), "reg must be finite and >= 0"),
    ];
    let dir = temp_dir();
    let path = dir.path().join("bad.safetensors");
    let (tensors, metadata) = parts(&hand_model());
    let all = unreadable.into_iter().map(|c| (c, false));
    for ((change, expected), is_inconsistent) in
        all.chain(inconsistent.into_iter().map(|c| (c, true)))
    {
        let (mut tensors, mut metadata) = (tensors.clone(), metadata.clone());
        change.apply(&mut tensors, &mut metadata);
        write_file(&path, &tensors, Some(metadata));
        let message = load_error_message(&path, is_inconsistent);
        assert!(message.contains(expected), "expected '{expected}' in: {message}");
    }
    write_file(&path, &tensors, None);
    let message = file_error_message(Model::load(&path), &path);
    assert!(message.contains("not a softmax model"), "{message}");
}

/// Every prefix of a model file, random bytes, and files with random bytes changed: loading
/// returns (an error, mostly) and never panics.
#[test]
fn no_bytes_make_load_panic() {
    let dir = temp_dir();
    let good = dir.path().join("good.safetensors");
    image_model(Precision::F32).save(&good).unwrap();
    let bytes = fs::read(&good).unwrap();
    let path = dir.path().join("fuzz.safetensors");
    for length in 0..bytes.len() {
        fs::write(&path, &bytes[..length]).unwrap();
        assert!(Model::load(&path).is_err(), "a prefix of {length} bytes loaded");
    }
    let mut rng = ChaCha8Rng::seed_from_u64(20261127);
    for _ in 0..300 {
        let length = rng.random_range(0..2 * bytes.len());
        let random: Vec<u8> = (0..length).map(|_| rng.random()).collect();
        fs::write(&path, &random).unwrap();
        assert!(Model::load(&path).is_err());
    }
    for _ in 0..2000 {
        let mut changed = bytes.clone();
        for _ in 0..rng.random_range(1..4) {
            let at = rng.random_range(0..changed.len());
            changed[at] = rng.random();
        }
        fs::write(&path, &changed).unwrap();
        let _ = Model::load(&path); // a change in the data may still be a valid model
    }
}

// ---- evaluation ----

/// D = C = 3, W = I, b = 0, no preprocessing: one-hot inputs e_k score e_k, so the model
/// predicts k.
fn identity_model(loss: Loss) -> Model {
    let parts = ModelParts {
        weight: Array2::eye(3),
        bias: Array1::zeros(3),
        preprocessor: Preprocessor {
            kind: Preprocess::None,
            offset: Array1::zeros(3),
            scale: Array1::ones(3),
        },
        class_names: names(&["a", "b", "c"]),
        feature_names: None,
        image_shape: None,
        loss,
        reg: 0.0,
        reg_convention: RegConvention::Half,
        bias_mode: Bias::Intercept,
        precision: Precision::F64,
        training: json!({}),
    };
    Model::new(parts).unwrap()
}

/// Labels [0, 0, 1, 1, 2] with inputs that the identity model predicts as [0, 1, 1, 1, 0].
fn confusion_dataset() -> Dataset {
    let predicted = [0, 1, 1, 1, 0];
    Dataset {
        inputs: Array2::from_shape_fn((5, 3), |(i, j)| if predicted[i] == j { 1.0 } else { 0.0 }),
        labels: vec![0, 0, 1, 1, 2],
        sample_weights: None,
        class_names: names(&["a", "b", "c"]),
        feature_names: None,
        image_shape: None,
    }
}

#[test]
fn evaluation_of_a_hand_made_confusion() {
    let evaluation = evaluate(&identity_model(Loss::Softmax), &confusion_dataset()).unwrap();
    assert_eq!(evaluation.n_samples, 5);
    assert_eq!(evaluation.accuracy, 0.6); // samples 0, 2, 3
    assert_eq!(evaluation.confusion_matrix, vec![vec![1, 1, 0], vec![0, 2, 0], vec![1, 0, 0]]);
    let class = |class: &str, precision, recall, support| ClassMetrics {
        class: class.to_string(),
        precision,
        recall,
        support,
    };
    assert_eq!(
        evaluation.per_class,
        vec![
            class("a", 1.0 / 2.0, 1.0 / 2.0, 2), // predicted a twice, 1 right; 1 of 2 a's found
            class("b", 2.0 / 3.0, 2.0 / 2.0, 2), // predicted b 3 times, 2 right; both b's found
            class("c", 0.0, 0.0, 1),             // never predicted: precision 0 by convention
        ]
    );
    // Scores e_k: L_i = log(e + 1 + 1) − 1{k = y_i}; three samples are right.
    let expected = (1.0f64.exp() + 2.0).ln() - 3.0 / 5.0;
    approx::assert_relative_eq!(evaluation.mean_loss, expected, max_relative = 1e-15);
}

#[test]
fn svm_mean_loss_is_the_hinge() {
    // A right sample: margins 0 − 1 + 1 = 0 → 0. A wrong one (e_k, label y ≠ k): class k
    // gives 1 − 0 + 1 = 2, the third class 0 − 0 + 1 = 1 → 3. Two of five are wrong.
    let evaluation = evaluate(&identity_model(Loss::Svm), &confusion_dataset()).unwrap();
    approx::assert_relative_eq!(evaluation.mean_loss, 6.0 / 5.0, max_relative = 1e-15);
}

#[test]
fn evaluation_after_aligning_classes_by_name() {
    // The same data with its classes in another order: aligning relabels it to the model's.
    let mut data = confusion_dataset();
    data.class_names = names(&["c", "a", "b"]);
    data.labels = vec![1, 1, 2, 2, 0];
    let model = identity_model(Loss::Softmax);
    let err = evaluate(&model, &data).unwrap_err();
    assert!(err.to_string().contains("align them first"), "{err}");
    let aligned = data.align_classes(model.class_names()).unwrap();
    assert_eq!(
        evaluate(&model, &aligned).unwrap(),
        evaluate(&model, &confusion_dataset()).unwrap()
    );
}

#[test]
fn evaluation_refuses_data_it_cannot_score() {
    let model = identity_model(Loss::Softmax);
    let mut empty = confusion_dataset();
    empty.inputs = Array2::zeros((0, 3));
    empty.labels.clear();
    assert!(matches!(evaluate(&model, &empty), Err(Error::Empty(_))));

    let mut out_of_range = confusion_dataset();
    out_of_range.labels[4] = 3;
    let err = evaluate(&model, &out_of_range).unwrap_err();
    assert!(matches!(err, Error::LabelOutOfRange { index: 4, label: 3, n_classes: 3 }), "{err}");

    let mut short = confusion_dataset();
    short.labels.pop();
    assert!(matches!(evaluate(&model, &short), Err(Error::LabelCount { labels: 4, samples: 5 })));

    let mut wide = confusion_dataset();
    wide.inputs = Array2::zeros((5, 4));
    assert!(matches!(evaluate(&model, &wide), Err(Error::FeatureMismatch { .. })));
}

#[test]
fn the_evaluation_serializes_to_the_documented_json() {
    let evaluation = evaluate(&identity_model(Loss::Softmax), &confusion_dataset()).unwrap();
    let value = serde_json::to_value(&evaluation).unwrap();
    let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["n_samples", "accuracy", "mean_loss", "per_class", "confusion_matrix"]);
    assert_eq!(
        value["per_class"][1],
        json!({"class": "b", "precision": 2.0 / 3.0, "recall": 1.0, "support": 2})
    );
}

// ---- features matched by name ----

/// Writes `text` to `name` in `dir`.
fn write_csv(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    path
}

/// The message of a file error, after checking that it names the file `name`.
fn error_naming(result: softmax::Result<Array2<f32>>, name: &str) -> String {
    match result {
        Err(Error::File { path, message }) => {
            assert!(path.ends_with(name), "{} instead of {name}: {message}", path.display());
            message
        }
        other => panic!("{name}: expected a file error, got {other:?}"),
    }
}

/// A CSV file's header is matched to the model's feature names (height, weight): columns in
/// any order, one more column (labels) anywhere; names that are not the model's are refused
/// with the file and the columns named.
#[test]
fn csv_inputs_are_matched_to_the_model_features_by_name() {
    let model = hand_model();
    let dir = temp_dir();
    let expected = array![[3.0f32, 6.0], [1.0, 4.0]];
    for (name, text) in [
        ("same.csv", "height,weight\n3,6\n1,4\n"),
        ("swapped.csv", "weight,height\n6,3\n4,1\n"),
        ("label_last.csv", "weight,height,species\n6,3,cat\n4,1,dog\n"),
        ("label_first.csv", "species,height,weight\ncat,3,6\ndog,1,4\n"),
        ("label_between.csv", "weight,species,height\n6,cat,3\n4,dog,1\n"),
        ("no_header.csv", "3,6\n1,4\n"),
    ] {
        let path = write_csv(dir.path(), name, text);
        assert_eq!(model.load_inputs(&path).unwrap(), expected, "{name}");
    }
    // A model without feature names reads a header's columns by position, as load_features.
    let mut parts = hand_parts();
    parts.feature_names = None;
    let unnamed = Model::new(parts).unwrap();
    let swapped = dir.path().join("swapped.csv");
    assert_eq!(unnamed.load_inputs(&swapped).unwrap(), array![[6.0f32, 3.0], [4.0, 1.0]]);
    assert_eq!(
        softmax::data::load_features(&swapped, 2).unwrap(),
        array![[6.0f32, 3.0], [4.0, 1.0]]
    );

    let refused: [(&str, &str, &[&str]); 5] = [
        (
            "other_names.csv",
            "x,y,label\n1,2,cat\n",
            &["no column holds the model's features height, weight", "header names x, y, label"],
        ),
        ("one_missing.csv", "height,species\n1,cat\n", &["model's feature weight"]),
        (
            "twice.csv",
            "height,weight,height\n1,2,3\n",
            &["2 columns are named 'height'", "ambiguous"],
        ),
        (
            "two_extra.csv",
            "height,weight,species,id\n1,2,cat,7\n",
            &["columns species, id are none of the model's features", "only one column"],
        ),
        // The label first used to be read as the feature height, and weight as the label.
        ("three_columns.csv", "label,height\ncat,1\n", &["model's feature weight"]),
    ];
    for (name, text, parts) in refused {
        let path = write_csv(dir.path(), name, text);
        let message = error_naming(model.load_inputs(&path), name);
        for part in parts {
            assert!(message.contains(part), "{name}: '{message}' lacks '{part}'");
        }
        assert!(message.contains("the model's features are height, weight"), "{message}");
    }
}

/// A first row that names every one of the model's features is a header, even when the names
/// are numbers (which would otherwise make it a row of data).
#[test]
fn a_first_row_naming_every_feature_is_a_header_even_in_numbers() {
    let mut parts = hand_parts();
    parts.feature_names = Some(names(&["1", "2"]));
    let model = Model::new(parts).unwrap();
    let dir = temp_dir();
    let path = write_csv(dir.path(), "numbered.csv", "2,1\n6,3\n");
    assert_eq!(model.load_inputs(&path).unwrap(), array![[3.0f32, 6.0]]);
    assert_eq!(softmax::data::load_features(&path, 2).unwrap(), array![[2.0f32, 1.0], [6.0, 3.0]]);
}

/// `Dataset::align_features` puts a data set's named columns in the model's order, leaves data
/// without names as it is, and refuses names that are not the model's.
#[test]
fn align_features_reorders_named_columns_and_refuses_other_names() {
    let data = |columns: Option<&[&str]>| Dataset {
        inputs: array![[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]],
        labels: vec![0, 1],
        sample_weights: None,
        class_names: names(&["a", "b"]),
        feature_names: columns.map(names),
        image_shape: None,
    };
    let model_names = names(&["z", "x", "y"]);
    let aligned = data(Some(&["x", "y", "z"])).align_features(Some(&model_names)).unwrap();
    assert_eq!(aligned.inputs, array![[3.0f32, 1.0, 2.0], [6.0, 4.0, 5.0]]);
    assert_eq!(aligned.feature_names, Some(model_names.clone()));
    assert_eq!(data(None).align_features(Some(&model_names)).unwrap(), data(None));
    let unnamed_model = data(Some(&["x", "y", "z"])).align_features(None).unwrap();
    assert_eq!(unnamed_model, data(Some(&["x", "y", "z"])));
    for (columns, parts) in [
        (["x", "y", "w"], ["no column holds the model's feature z", "features are x, y, w"]),
        (["x", "y", "y"], ["no column holds the model's feature z", "2 columns are named 'y'"]),
    ] {
        let error = data(Some(&columns)).align_features(Some(&model_names)).unwrap_err();
        assert!(matches!(error, Error::InconsistentData(_)), "{error:?}");
        let message = error.to_string();
        for part in parts {
            assert!(message.contains(part), "'{message}' lacks '{part}'");
        }
        assert!(message.contains("the model's are z, x, y"), "{message}");
    }
    // Every model feature found, and one more column: refused, not dropped.
    let mut wide = data(None);
    wide.feature_names = Some(names(&["x", "label", "z"]));
    let error = wide.align_features(Some(&names(&["x", "z"]))).unwrap_err().to_string();
    assert!(error.contains("column label is none of the model's features"), "{error}");
}

/// The CSV of `predict_and_eval_match_csv_columns_by_name`: the label is set by `a` alone, and
/// `b` and `c` are larger and unrelated, so that reading them as `a` changes the predictions.
fn abc_rows() -> Vec<[String; 4]> {
    (0..40)
        .map(|i| {
            let a = f64::from(i) - 19.5;
            let b = f64::from((i * 7) % 13) * 10.0 - 60.0;
            let c = f64::from((i * 11) % 17) * -8.0 + 70.0;
            let label = if a > 0.0 { "hi" } else { "lo" };
            [a.to_string(), b.to_string(), c.to_string(), label.to_string()]
        })
        .collect()
}

/// Writes [`abc_rows`] with the columns in the order of `header` (names among a, b, c, label).
fn abc_csv(dir: &Path, name: &str, header: [&str; 4]) -> String {
    let position = |column: &str| ["a", "b", "c", "label"].iter().position(|c| *c == column);
    let order: Vec<usize> = header.iter().map(|c| position(c).unwrap()).collect();
    let mut text = header.join(",") + "\n";
    for row in abc_rows() {
        let fields: Vec<&str> = order.iter().map(|&i| row[i].as_str()).collect();
        text += &(fields.join(",") + "\n");
    }
    crate::common::text(&write_csv(dir, name, &text))
}

/// `softmax predict` and `softmax eval` read a CSV file's columns by name for a model trained
/// on a header: reordered columns give the same predictions and accuracy, other names are
/// refused naming the file and the columns.
#[test]
fn predict_and_eval_match_csv_columns_by_name() {
    use crate::common::{failure, json, softmax};
    let dir = temp_dir();
    let train = abc_csv(dir.path(), "train.csv", ["a", "b", "c", "label"]);
    let model = crate::common::text(&dir.path().join("abc.safetensors"));
    let data = format!("csv:{train}");
    json(&["train", "--data", &data, "--val-fraction", "0", "--quiet", "--model", &model]);
    let predict = |inputs: &str| {
        let out = softmax(&["predict", "--model", &model, "--inputs", inputs]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{inputs}: {stderr}");
        String::from_utf8(out.stdout).unwrap()
    };
    let expected = predict(&train);
    let truth: String = abc_rows().iter().map(|row| format!("\n{}", row[3])).collect();
    assert_eq!(expected.trim_end(), format!("label{truth}"), "the model separates the classes");
    for (name, header) in [
        ("cba.csv", ["c", "b", "a", "label"]),
        ("label_first.csv", ["label", "a", "b", "c"]),
        ("bca.csv", ["b", "label", "c", "a"]),
    ] {
        let inputs = abc_csv(dir.path(), name, header);
        assert_eq!(predict(&inputs), expected, "{name}");
    }
    let renamed = write_csv(dir.path(), "xyz.csv", "x,y,z,label\n1,2,3,hi\n");
    let stderr =
        failure(&["predict", "--model", &model, "--inputs", &crate::common::text(&renamed)]);
    for part in ["xyz.csv", "x, y, z, label", "a, b, c"] {
        assert!(stderr.contains(part), "'{stderr}' lacks '{part}'");
    }

    let eval = |data: &str, extra: &[&str]| {
        let mut args = vec!["eval", "--model", &model, "--data", data, "--val-fraction", "0"];
        args.extend(extra);
        json(&args)["accuracy"].as_f64().unwrap()
    };
    let accuracy = eval(&data, &[]);
    assert_eq!(accuracy, 1.0);
    let cba = format!("csv:{}", abc_csv(dir.path(), "cba.csv", ["c", "b", "a", "label"]));
    assert_eq!(eval(&cba, &[]), accuracy);
    let label_first = abc_csv(dir.path(), "label_first.csv", ["label", "a", "b", "c"]);
    let label_first = format!("csv:{label_first}");
    assert_eq!(eval(&label_first, &["--label-column", "label"]), accuracy);
    // Without --label-column the last column, c, is taken for the labels, and the labels for a
    // feature: refused, not scored (here the class names are not numbers) ...
    let stderr =
        failure(&["eval", "--model", &model, "--data", &label_first, "--val-fraction", "0"]);
    for part in ["label_first.csv", "column 'label'", "is not a number"] {
        assert!(stderr.contains(part), "'{stderr}' lacks '{part}'");
    }
    // ... and when they are numbers, because c is not among the features.
    let numbered = write_csv(dir.path(), "numbered.csv", "label,a,b,c\n1,0.5,1,2\n0,-0.5,1,2\n");
    let numbered = format!("csv:{}", crate::common::text(&numbered));
    let stderr = failure(&["eval", "--model", &model, "--data", &numbered, "--val-fraction", "0"]);
    for part in ["numbered.csv", "--label-column", "model's feature c", "label, a, b"] {
        assert!(stderr.contains(part), "'{stderr}' lacks '{part}'");
    }
}

// ---- Python ----

/// Saves two models and runs `tests/fixtures/model/read_model.py` on them: Python (NumPy alone,
/// and the safetensors package when installed) must read them and predict what we predict.
/// Needs `python3` with `numpy` and `safetensors`, which the README's test command installs.
#[test]
fn python_reads_a_saved_model() {
    let dir = temp_dir();
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/model/read_model.py");
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let random_inputs = Array2::from_shape_fn((20, 12), |_| rng.random_range(-1000.0f32..1000.0));
    for (name, model, inputs) in [
        ("hand_f64", hand_model(), hand_inputs()),
        ("image_f32", image_model(Precision::F32), random_inputs),
    ] {
        let model_path = dir.path().join(format!("{name}.safetensors"));
        let inputs_path = dir.path().join(format!("{name}_inputs.npy"));
        model.save(&model_path).unwrap();
        softmax::npy::write_matrix(&inputs_path, inputs.view()).unwrap();
        let rows = inputs.nrows().to_string();
        let output = std::process::Command::new("python3")
            .args([
                script.as_os_str(),
                model_path.as_os_str(),
                inputs_path.as_os_str(),
                rows.as_ref(),
            ])
            .output()
            .expect("python3 runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        println!("--- {name}\n{stdout}{}", String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success());
        let predicted: Vec<usize> = stdout
            .lines()
            .find_map(|line| line.strip_prefix("predicted: "))
            .expect("a 'predicted:' line")
            .split(' ')
            .map(|label| label.parse().unwrap())
            .collect();
        let loaded = Model::load(&model_path).unwrap();
        assert_eq!(predicted, loaded.predict(inputs.view()).unwrap());
        let class_names =
            stdout.lines().find_map(|line| line.strip_prefix("class_names: ")).unwrap();
        assert_eq!(serde_json::from_str::<Vec<String>>(class_names).unwrap(), model.class_names());
    }
}

/// A standardizing softmax model (C = 7, D = 5) and N = 2,500 random samples: more rows than
/// one chunk of scores (1,024), and a last chunk that is not full.
fn chunked_problem() -> (Model, Dataset) {
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let (n_samples, n_features, n_classes) = (2500, 5, 7);
    let mut random =
        |shape: (usize, usize)| Array2::from_shape_fn(shape, |_| rng.random_range(-2.0..2.0));
    let weight = random((n_classes, n_features));
    let bias = random((1, n_classes)).row(0).to_owned();
    let inputs = random((n_samples, n_features)).mapv(|v| v as f32);
    let labels = (0..n_samples).map(|i| (i * 7 + i / 3) % n_classes).collect();
    let parts = ModelParts {
        weight,
        bias,
        preprocessor: Preprocessor {
            kind: Preprocess::Standardize,
            offset: Array1::from_vec(vec![0.1, -0.2, 0.3, 0.0, 0.5]),
            scale: Array1::from_vec(vec![1.5, 0.5, 2.0, 1.0, 0.8]),
        },
        class_names: (0..n_classes).map(|c| format!("class {c}")).collect(),
        feature_names: None,
        ..hand_parts()
    };
    let model = Model::new(parts).unwrap();
    let data = Dataset {
        inputs,
        labels,
        sample_weights: None,
        class_names: model.class_names().to_vec(),
        feature_names: None,
        image_shape: None,
    };
    (model, data)
}

/// The scores worked out sample by sample: f_j = Σ_d W_jd (x_d − offset_d) / scale_d + b_j.
fn scores_by_hand(model: &Model, inputs: &Array2<f32>) -> Array2<f64> {
    let (w, b, p) = (model.weight(), model.bias(), model.preprocessor());
    Array2::from_shape_fn((inputs.nrows(), model.n_classes()), |(i, j)| {
        let x = |d: usize| (f64::from(inputs[[i, d]]) - p.offset[d]) / p.scale[d];
        b[j] + (0..model.n_features()).map(|d| w[[j, d]] * x(d)).sum::<f64>()
    })
}

/// Prediction and evaluation hold a chunk of scores at a time; what they give is what the whole
/// N×C scores give: the argmax, the mean of log Σ_j e^{f_j} − f_y, the top-k count.
#[test]
fn chunked_prediction_and_evaluation_agree_with_the_whole_scores() {
    let (model, data) = chunked_problem();
    let reference = scores_by_hand(&model, &data.inputs);
    let scores = model.scores(data.inputs.view()).unwrap();
    approx::assert_abs_diff_eq!(scores, reference, epsilon = 1e-12);
    let predicted = softmax::model::argmax_rows(reference.view());
    assert_eq!(model.predict(data.inputs.view()).unwrap(), predicted);
    let loss_of = |row: ndarray::ArrayView1<f64>, label: usize| {
        let max = row.fold(f64::NEG_INFINITY, |m, &f| m.max(f));
        max + row.iter().map(|f| (f - max).exp()).sum::<f64>().ln() - row[label]
    };
    let mean_loss = reference
        .rows()
        .into_iter()
        .zip(&data.labels)
        .map(|(row, &y)| loss_of(row, y))
        .sum::<f64>()
        / data.labels.len() as f64;
    let (evaluation, top_3) =
        softmax::metrics::evaluate_with_top_k(&model, &data, Some(3)).unwrap();
    assert_eq!(evaluation.n_samples, 2500);
    assert_eq!(evaluation.accuracy, softmax::metrics::accuracy(&predicted, &data.labels));
    approx::assert_relative_eq!(evaluation.mean_loss, mean_loss, max_relative = 1e-12);
    let expected_top_3 = softmax::metrics::top_k_accuracy(reference.view(), &data.labels, 3);
    assert_eq!(top_3, Some(expected_top_3));
    assert!(expected_top_3 > evaluation.accuracy && expected_top_3 < 1.0, "{expected_top_3}");
    let confusion_total: usize = evaluation.confusion_matrix.iter().flatten().sum();
    assert_eq!(confusion_total, 2500);
    assert_eq!(evaluate(&model, &data).unwrap(), evaluation);
    assert_eq!(softmax::metrics::evaluate_top_k(&model, &data, 3).unwrap(), expected_top_3);
}

/// A score that overflows float64 in a later chunk is reported at its sample, by every way of
/// scoring.
#[test]
fn an_overflowing_score_in_a_later_chunk_names_its_sample() {
    let (model, mut data) = chunked_problem();
    let mut parts = model.into_parts();
    parts.weight[[4, 2]] = 1e300;
    let model = Model::new(parts).unwrap();
    data.inputs[[2000, 2]] = 1e30;
    let overflow_at_2000 = |err: Error| matches!(err, Error::ScoreOverflow { sample: 2000, .. });
    assert!(overflow_at_2000(model.scores(data.inputs.view()).unwrap_err()));
    assert!(overflow_at_2000(model.predict(data.inputs.view()).unwrap_err()));
    assert!(overflow_at_2000(evaluate(&model, &data).unwrap_err()));
}

/// A reader that gives chunks of the wrong shape is an error naming the rows, not a panic.
#[test]
fn a_reader_of_the_wrong_rows_is_an_error() {
    let (model, data) = chunked_problem();
    let short = |rows: std::ops::Range<usize>| {
        let rows = rows.start..rows.end - 1; // one row short
        Ok(ndarray::CowArray::from(data.inputs.slice(ndarray::s![rows, ..])))
    };
    let err = model.map_score_chunks_read(data.inputs.dim(), short, |_, _| ()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "inconsistent data: asked for rows 0..1024 of 5 features, the reader gave 1023 rows of 5"
    );
}
