//! The pictures (`softmax::plot`), the report page (`softmax::report`) and the `plot`,
//! `report` and `train --report` commands: the files are valid PNG or SVG of the size the
//! picture states, pixels have the colours the weights, counts and accuracies call for, and the
//! page embeds every picture and number it claims.

use std::path::{Path, PathBuf};

use crate::common::{assert_per_class_rows, failure, fixture, json, text};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ndarray::{Array1, Array2};
use plotters::style::RGBColor;
use softmax::data::ImageShape;
use softmax::metrics::{ClassMetrics, Evaluation};
use softmax::model::{Model, ModelParts, Precision};
use softmax::plot::{
    ConfusionMatrix, DIVERGING, Picture, SEQUENTIAL, Templates, TrainingCurves, TuningMap,
    WeightHeatMap, WeightsPicture,
};
use softmax::preprocess::{Bias, Preprocess, Preprocessor};
use softmax::train::{Checkpoint, History, Optimizer, Step};
use softmax::tune::{TuningResult, TuningResults};
use softmax::{Loss, RegConvention};

// ---------------------------------------------------------------------------------------------
// Helpers

/// A decoded 8-bit RGB PNG.
struct Png {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl Png {
    fn decode(bytes: &[u8]) -> Png {
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().expect("a PNG header");
        let mut rgb = vec![0; reader.output_buffer_size().expect("a size")];
        let info = reader.next_frame(&mut rgb).expect("PNG data");
        assert_eq!(info.color_type, png::ColorType::Rgb);
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        Png { width: info.width, height: info.height, rgb }
    }

    fn pixel(&self, (x, y): (u32, u32)) -> RGBColor {
        let i = 3 * (y * self.width + x) as usize;
        RGBColor(self.rgb[i], self.rgb[i + 1], self.rgb[i + 2])
    }
}

/// `picture` as a PNG, decoded, after checking its size is the one it states.
fn png_of(picture: &impl Picture) -> Png {
    let png = Png::decode(&picture.render(Path::new("picture.png")).unwrap());
    assert_eq!((png.width, png.height), picture.size());
    png
}

/// `picture` as SVG text, after checking it is one `<svg>` element of the size it states.
fn svg_of(picture: &impl Picture) -> String {
    let svg = String::from_utf8(picture.render(Path::new("picture.svg")).unwrap()).unwrap();
    assert_eq!(svg_size(&svg), picture.size());
    assert!(svg.trim_end().ends_with("</svg>"), "an SVG document");
    svg
}

/// The width and height attributes of the `<svg>` element.
fn svg_size(svg: &str) -> (u32, u32) {
    let start = svg.find("<svg").expect("an <svg> element");
    let tag = &svg[start..start + svg[start..].find('>').unwrap()];
    let attribute = |name: &str| -> u32 {
        let from = tag.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
        tag[from..from + tag[from..].find('"').unwrap()].parse().unwrap()
    };
    (attribute("width"), attribute("height"))
}

/// The centre `(cx, cy)` and radius of every `<circle>` of the SVG whose attributes contain
/// `marker`.
fn circles(svg: &str, marker: &str) -> Vec<((f64, f64), f64)> {
    svg.split("<circle")
        .skip(1)
        .map(|rest| &rest[..rest.find('>').unwrap()])
        .filter(|tag| tag.contains(marker))
        .map(|tag| {
            let value = |name: &str| -> f64 {
                let from = tag.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
                tag[from..from + tag[from..].find('"').unwrap()].parse().unwrap()
            };
            ((value("cx"), value("cy")), value("r"))
        })
        .collect()
}

/// A model whose class k has weights `weight(k, j)` on D features, with the given image shape.
fn model(
    n_classes: usize,
    n_features: usize,
    image_shape: Option<ImageShape>,
    weight: impl Fn(usize, usize) -> f64,
) -> Model {
    Model::new(parts(n_classes, n_features, image_shape, weight)).unwrap()
}

/// The parts of [`model`].
fn parts(
    n_classes: usize,
    n_features: usize,
    image_shape: Option<ImageShape>,
    weight: impl Fn(usize, usize) -> f64,
) -> ModelParts {
    ModelParts {
        weight: Array2::from_shape_fn((n_classes, n_features), |(k, j)| weight(k, j)),
        bias: Array1::zeros(n_classes),
        preprocessor: Preprocessor::fit(Preprocess::None, Array2::zeros((1, n_features)).view()),
        class_names: (0..n_classes).map(|k| format!("class {k}")).collect(),
        feature_names: None,
        image_shape,
        loss: Loss::Softmax,
        reg: 0.0,
        reg_convention: RegConvention::Half,
        bias_mode: Bias::Intercept,
        precision: Precision::F64,
        training: serde_json::json!({}),
    }
}

/// The pixel `(dx, dy)` past `origin`.
fn at((x, y): (u32, u32), (dx, dy): (u32, u32)) -> (u32, u32) {
    (x + dx, y + dy)
}

/// Trains a model on `data` with quick SGD settings (a history with several checkpoints) and
/// returns the paths of the model and its history.
fn train(dir: &Path, name: &str, data: &str, extra: &[&str]) -> (PathBuf, PathBuf) {
    let model = dir.join(format!("{name}.safetensors"));
    let history = dir.join(format!("{name}_history.csv"));
    let mut args = vec!["train", "--data", data, "--optimizer", "sgd", "--epochs", "5"];
    args.extend(["--batch-size", "50", "--preprocess", "scale", "--quiet"]);
    let (model_text, history_text) = (text(&model), text(&history));
    args.extend(["--model", &model_text, "--history", &history_text]);
    args.extend(extra);
    json(&args);
    (model, history)
}

fn mnist() -> String {
    format!("mnist:{}", text(&fixture("data/mnist")))
}

fn cifar() -> String {
    format!("cifar10:{}", text(&fixture("data/cifar10")))
}

// ---------------------------------------------------------------------------------------------
// The weights

#[test]
fn colour_templates_are_rescaled_over_the_global_range_in_class_order() {
    // Class k's weights are all k: rescaled over [0, C − 1], tile k is grey 255·k/(C − 1).
    let shape = ImageShape { channels: 3, height: 4, width: 4 };
    let n_classes = 6;
    let templates = Templates::new(&model(n_classes, 48, Some(shape), |k, _| k as f64)).unwrap();
    let png = png_of(&templates);
    let mut previous = None;
    for k in 0..n_classes {
        let level = (255.0 * k as f64 / (n_classes - 1) as f64).round() as u8;
        let origin = templates.tile_origin(k);
        let corners = [(0, 0), (templates.scale() * 4 - 1, templates.scale() * 4 - 1)];
        for offset in corners {
            assert_eq!(png.pixel(at(origin, offset)), RGBColor(level, level, level), "class {k}");
        }
        assert!(previous.is_none_or(|p| level > p), "intensities rise in class order");
        previous = Some(level);
    }
}

#[test]
fn colour_templates_reshape_channel_major_weights() {
    // One class, 3×1×2: red plane [1, 0], green [0, 0], blue [0, 1] over the global [0, 1].
    let shape = ImageShape { channels: 3, height: 1, width: 2 };
    let weights = [1.0, 0.0, 0.0, 0.0, 0.0, 1.0];
    let templates = Templates::new(&model(1, 6, Some(shape), |_, j| weights[j])).unwrap();
    let png = png_of(&templates);
    let origin = templates.tile_origin(0);
    assert_eq!(png.pixel(origin), RGBColor(255, 0, 0));
    assert_eq!(png.pixel(at(origin, (templates.scale(), 0))), RGBColor(0, 0, 255));
}

#[test]
fn grey_templates_use_the_diverging_colormap_in_class_order() {
    // 1×8×8 like digits; class k's weights are k − 1 for k = 0..4: max |w| = 2.
    let shape = ImageShape { channels: 1, height: 8, width: 8 };
    let templates = Templates::new(&model(4, 64, Some(shape), |k, _| k as f64 - 1.0)).unwrap();
    let png = png_of(&templates);
    let colors: Vec<RGBColor> =
        (0..4).map(|k| png.pixel(at(templates.tile_origin(k), (3, 3)))).collect();
    let expected: Vec<RGBColor> = (0..4).map(|k| DIVERGING.signed(k as f64 - 1.0, 2.0)).collect();
    assert_eq!(colors, expected);
    assert_eq!(colors[1], RGBColor(255, 255, 255), "zero is white");
    assert!(colors[0].2 > colors[0].0, "negative is blue");
    assert_eq!(colors[3], RGBColor(178, 24, 43), "the largest weight is the darkest red");
}

#[test]
fn cifar_templates_are_upscaled_to_at_least_64_pixels_without_smoothing() {
    // 3×32×32, one hot pixel (red channel, row 0, column 0) in class 0, everything else 0.
    let shape = ImageShape { channels: 3, height: 32, width: 32 };
    let hot = |k: usize, j: usize| if k == 0 && j == 0 { 1.0 } else { 0.0 };
    let templates = Templates::new(&model(10, 3072, Some(shape), hot)).unwrap();
    let scale = templates.scale();
    assert!(32 * scale >= 64, "tiles of {} pixels", 32 * scale);
    let png = png_of(&templates);
    let origin = templates.tile_origin(0);
    for (dx, dy) in [(0, 0), (scale - 1, 0), (0, scale - 1), (scale - 1, scale - 1)] {
        assert_eq!(png.pixel(at(origin, (dx, dy))), RGBColor(255, 0, 0), "the whole block");
    }
    assert_eq!(png.pixel(at(origin, (scale, 0))), RGBColor(0, 0, 0), "the next pixel");
    assert_eq!(png.pixel(templates.tile_origin(9)), RGBColor(0, 0, 0));
    // Ten classes: two rows of five, in class order.
    let (x0, y0) = templates.tile_origin(0);
    let (x4, y4) = templates.tile_origin(4);
    let (x5, y5) = templates.tile_origin(5);
    assert!(x4 > x0 && y4 == y0 && x5 == x0 && y5 > y0);
}

#[test]
fn weights_without_an_image_shape_draw_a_heat_map() {
    let mut parts = parts(3, 4, None, |k, j| k as f64 - j as f64); // w in [−3, 2]
    parts.feature_names = Some(
        ["sepal length", "sepal width", "petal length", "petal width"].map(String::from).to_vec(),
    );
    let heat = Model::new(parts).unwrap();
    let err = Templates::new(&heat).err().unwrap().to_string();
    assert!(err.contains("not images") && err.contains("heat map"), "{err}");
    assert!(matches!(WeightsPicture::new(&heat), WeightsPicture::HeatMap(_)));

    let heat_map = WeightHeatMap::new(&heat);
    let png = png_of(&heat_map);
    for (k, j) in [(0, 0), (0, 3), (2, 0), (1, 2)] {
        let expected = DIVERGING.signed(k as f64 - j as f64, 3.0);
        assert_eq!(png.pixel(at(heat_map.cell_origin(k, j), (1, 1))), expected, "({k}, {j})");
    }
    let svg = svg_of(&heat_map);
    for name in ["sepal length", "petal width", "class 0", "class 2"] {
        assert!(svg.contains(&format!(">\n{name}\n</text>")), "{name} in the SVG");
    }
}

#[test]
fn bad_picture_names_are_refused_before_drawing() {
    let shape = ImageShape { channels: 1, height: 2, width: 2 };
    let picture = WeightsPicture::new(&model(2, 4, Some(shape), |k, _| k as f64));
    let err = picture.render(Path::new("out/weights.jpg")).unwrap_err().to_string();
    assert_eq!(
        err,
        "out/weights.jpg: unknown picture format: the file name must end in .png or .svg"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weights.SVG");
    picture.save(&path).unwrap();
    assert_eq!(svg_size(&std::fs::read_to_string(&path).unwrap()), picture.size());
}

#[test]
fn pictures_too_large_to_draw_are_refused() {
    // 20,000 features make a heat map wider than the 16,384 pixels softmax draws.
    let picture = WeightHeatMap::new(&model(2, 20_000, None, |_, _| 1.0));
    let err = picture.render(Path::new("wide.png")).unwrap_err().to_string();
    assert!(err.starts_with("wide.png: the picture would be") && err.contains("16384"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Training curves, tuning map, confusion matrix

fn history() -> History {
    let steps = (1..=300)
        .map(|i| Step {
            iteration: i,
            epoch: i as f64 / 30.0,
            loss: 800.0 / i as f64 + (i % 7) as f64 * 0.1,
        })
        .collect();
    let checkpoints = (1..=10)
        .map(|e| Checkpoint {
            iteration: 30 * e,
            epoch: e as f64,
            train_accuracy: 0.5 + 0.04 * e as f64,
            val_accuracy: Some(0.45 + 0.04 * e as f64),
        })
        .collect();
    History { steps, checkpoints }
}

#[test]
fn training_curves_render_from_both_history_formats() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["history.csv", "history.json"] {
        let path = dir.path().join(name);
        history().write(&path).unwrap();
        let read = History::read(&path).unwrap();
        assert_same_history(&read, &history(), name);
        let curves = TrainingCurves::new(&read).unwrap();
        let png = png_of(&curves);
        assert_eq!((png.width, png.height), (1120, 486));
        let svg = svg_of(&curves);
        for label in ["Loss per step", "loss (log scale)", "mean of the last 6 steps", "validation"]
        {
            assert!(svg.contains(label), "{label} in the SVG");
        }
    }
    let err = TrainingCurves::new(&History::default()).err().unwrap().to_string();
    assert!(err.contains("no step"), "{err}");
}

/// The texts of an SVG's `<text>` elements, trimmed.
fn svg_texts(svg: &str) -> Vec<&str> {
    svg.split("<text")
        .skip(1)
        .filter_map(|rest| Some(rest[rest.find('>')? + 1..rest.find("</text>")?].trim()))
        .collect()
}

/// Runs `work` on a thread and panics if it takes more than `seconds` (a drawing that loops
/// forever fails the test instead of hanging it).
fn within<T: Send + 'static>(
    seconds: u64,
    what: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || sender.send(work()));
    match receiver.recv_timeout(std::time::Duration::from_secs(seconds)) {
        Ok(value) => value,
        Err(_) => panic!("{what} took more than {seconds} s"),
    }
}

/// Runs the `softmax` binary with `args`, killing it (and failing) after `seconds`.
fn softmax_within(seconds: u64, args: &[&str]) -> std::process::Output {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_softmax"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed().as_secs() >= seconds {
            child.kill().unwrap();
            panic!("{args:?} ran for more than {seconds} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// A history of the given losses, one step each, and two checkpoints.
fn history_of(losses: &[f64]) -> History {
    let steps = losses
        .iter()
        .enumerate()
        .map(|(i, &loss)| Step { iteration: i, epoch: i as f64, loss })
        .collect();
    let checkpoint = |iteration: usize, train_accuracy: f64| Checkpoint {
        iteration,
        epoch: iteration as f64,
        train_accuracy,
        val_accuracy: Some(0.5),
    };
    History { steps, checkpoints: vec![checkpoint(0, 0.25), checkpoint(losses.len(), 0.75)] }
}

#[test]
fn training_curves_of_extreme_losses_are_drawn_without_looping_forever() {
    let mut spike = vec![1.0; 300];
    spike[100] = 1.7e308;
    spike[101] = 1.7e308;
    // Each with the loss axis it gets: logarithmic only where the range's ratio is finite.
    let cases: Vec<(&str, Vec<f64>, &str)> = vec![
        ("1.7e308 then 1", vec![1.7e308, 1.0], "loss"),
        ("1e308 then -1e308", vec![1e308, -1e308], "loss"),
        ("the largest floats of both signs", vec![-f64::MAX, f64::MAX], "loss"),
        ("a subnormal and 1", vec![5e-324, 1.0], "loss"),
        ("1e308 then 1e-308", vec![1e308, 1e-308], "loss"),
        ("1e300 then 1.7e308", vec![1e300, 1.7e308], "loss (log scale)"),
        ("one huge loss", vec![1e300], "loss"),
        ("one loss", vec![3.0], "loss"),
        ("a flat loss", vec![2.0, 2.0, 2.0], "loss"),
        ("a smoothed run with two losses at 1.7e308", spike, "loss"),
    ];
    for (name, losses, axis) in cases {
        let history = history_of(&losses);
        let (png, svg) = within(60, name, move || {
            let curves = TrainingCurves::new(&history).unwrap();
            (png_of(&curves), svg_of(&curves))
        });
        assert_eq!((png.width, png.height), (1120, 486), "{name}");
        let texts = svg_texts(&svg);
        for label in ["inf", "-inf", "NaN"] {
            assert!(!texts.contains(&label), "{name}: a tick labelled {label}");
        }
        assert!(texts.contains(&"Loss per step") && texts.contains(&axis), "{name}: {texts:?}");
    }
    // The axis of ±f64::MAX is labelled in the losses' units, past ±1e308 both ways.
    let history = history_of(&[-f64::MAX, f64::MAX]);
    let svg = within(60, "±f64::MAX", move || svg_of(&TrainingCurves::new(&history).unwrap()));
    let numbers: Vec<f64> =
        svg_texts(&svg).iter().filter_map(|text| text.parse::<f64>().ok()).collect();
    let (low, high) = numbers.iter().fold((0.0f64, 0.0f64), |(l, h), &v| (l.min(v), h.max(v)));
    assert!(low <= -1e308 && high >= 1e308, "tick labels {numbers:?}");
}

#[test]
fn training_curves_skip_accuracies_that_are_not_numbers_and_keep_iterations_in_range() {
    let mut history = history_of(&[1.0, 0.5]);
    history.checkpoints[0].train_accuracy = f64::NAN;
    history.checkpoints[1].val_accuracy = Some(f64::INFINITY);
    history.steps[1].iteration = usize::MAX;
    let (png, svg) = within(60, "odd checkpoints", move || {
        let curves = TrainingCurves::new(&history).unwrap();
        (png_of(&curves), svg_of(&curves))
    });
    assert_eq!((png.width, png.height), (1120, 486));
    assert!(!svg.contains(">inf<") && !svg.contains(">NaN<"));
}

#[test]
fn plot_history_and_report_draw_extreme_losses() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("h.png");
    let write_history = |name: &str, (first, second): (&str, &str)| {
        let path = dir.path().join(name);
        let json = format!(
            r#"{{"steps":[{{"iteration":0,"epoch":0.0,"loss":{first}}},
                {{"iteration":1,"epoch":1.0,"loss":{second}}}],"checkpoints":[]}}"#
        );
        std::fs::write(&path, json).unwrap();
        text(&path)
    };
    let cases = [("1.7e+308", "1"), ("1e308", "-1e308"), ("-1e308", "1"), ("5e-324", "1")];
    for losses in cases {
        let history = write_history("h.json", losses);
        let args = ["plot", "history", "--history", &history, "--out", &text(&out)];
        let output = softmax_within(60, &args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{losses:?}: {stderr}");
        assert_eq!(Png::decode(&std::fs::read(&out).unwrap()).width, 1120, "{losses:?}");
    }
    let (model, _) = train(dir.path(), "digits", "digits", &[]);
    let report = dir.path().join("report");
    let (model, report_text) = (text(&model), text(&report));
    let history = write_history("huge.json", ("1.7e+308", "1"));
    let args = ["report", "--model", &model, "--data", "digits", "--out", &report_text];
    let output = softmax_within(120, &[&args[..], &["--history", &history]].concat());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(report.join("history.png").exists());
}

/// Checks that `read` is `written` (JSON may round the last bit of a number).
fn assert_same_history(read: &History, written: &History, name: &str) {
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs();
    assert_eq!(read.steps.len(), written.steps.len(), "{name}");
    for (a, b) in read.steps.iter().zip(&written.steps) {
        assert!(a.iteration == b.iteration && close(a.epoch, b.epoch) && close(a.loss, b.loss));
    }
    assert_eq!(read.checkpoints.len(), written.checkpoints.len(), "{name}");
    for (a, b) in read.checkpoints.iter().zip(&written.checkpoints) {
        assert!(a.iteration == b.iteration && close(a.train_accuracy, b.train_accuracy));
        assert_eq!(a.val_accuracy.is_some(), b.val_accuracy.is_some());
    }
}

/// A 3×3 grid whose validation accuracy grows with lr and falls with reg: the best pair is the
/// largest lr with the smallest reg, drawn right-most and lowest.
fn tuning() -> TuningResults {
    let mut results = Vec::new();
    for (i, lr) in [1e-7, 1e-6, 1e-5].into_iter().enumerate() {
        for (j, reg) in [1e3, 1e4, 1e5].into_iter().enumerate() {
            let val = 0.2 + 0.05 * i as f64 - 0.02 * j as f64;
            results.push(TuningResult {
                lr,
                reg,
                train_accuracy: val + 0.03,
                val_accuracy: Some(val),
                objective: 1.0 - val,
                iterations: 10,
                passes: 12.0,
                seconds: 0.5,
            });
        }
    }
    TuningResults {
        results,
        winner: None,
        reg_convention: RegConvention::Full,
        optimizer: Optimizer::Sgd,
        data: "a 3×3 grid".to_string(),
        warm_started: false,
    }
}

#[test]
fn the_tuning_map_rings_the_best_pair() {
    let map = TuningMap::new(&tuning()).unwrap();
    assert_eq!(map.best(), 6, "lr 1e-5, reg 1e3");
    let svg = svg_of(&map);
    assert!(svg.contains("lr 1.00e-5 and reg 1000 (full convention), validation accuracy 0.3000"));
    let width = f64::from(map.size().0);
    let rings = circles(&svg, "fill=\"none\" stroke=\"#000000\"");
    assert_eq!(rings.len(), 2, "one ring in each chart");
    for ((ring, _), left) in rings.iter().zip([0.0, width / 2.0]) {
        let discs: Vec<(f64, f64)> = circles(&svg, "stroke=\"none\"")
            .into_iter()
            .map(|(centre, _)| centre)
            .filter(|(x, _)| (left..left + width / 2.0).contains(x))
            .collect();
        assert_eq!(discs.len(), 9);
        let rightmost = discs.iter().map(|d| d.0).fold(f64::MIN, f64::max);
        let lowest = discs.iter().map(|d| d.1).fold(f64::MIN, f64::max);
        assert_eq!(*ring, (rightmost, lowest), "the ring is on the best disc");
    }
    // In the PNG the ring is black where the SVG draws it: one radius left of its centre.
    let png = png_of(&map);
    let ((x, y), radius) = rings[0];
    let black = |dx: f64| png.pixel(((x - radius + dx) as u32, y as u32)) == RGBColor(0, 0, 0);
    assert!([-1.0, 0.0, 1.0].into_iter().any(black), "a black ring at x = {}", x - radius);
    assert_ne!(png.pixel((x as u32, y as u32)), RGBColor(0, 0, 0), "a disc inside it");
}

#[test]
fn the_best_pair_is_the_first_of_ties_and_bad_results_are_refused() {
    let mut results = tuning();
    results.results[2].val_accuracy = results.results[6].val_accuracy; // ties the best, earlier
    assert_eq!(TuningMap::new(&results).unwrap().best(), 2);

    results.results[4].reg = 0.0;
    let err = TuningMap::new(&results).err().unwrap().to_string();
    assert!(err.contains("result 4 has reg = 0") && err.contains("log10 reg"), "{err}");
    results.results[4].reg = 1e3;
    for (index, result) in results.results.iter_mut().enumerate() {
        result.val_accuracy = if index % 2 == 0 { None } else { Some(f64::NAN) };
    }
    let err = TuningMap::new(&results).err().unwrap().to_string();
    assert!(err.contains("no result has a validation accuracy"), "{err}");
    results.results.clear();
    assert!(TuningMap::new(&results).err().unwrap().to_string().contains("no (lr, reg) pair"));
}

#[test]
fn confusion_cells_are_coloured_by_the_share_of_their_row_and_show_counts() {
    // True class 0: 6 right, 2 taken for class 1; class 1: 4 right; class 2: no sample.
    let counts = vec![vec![6, 2, 0], vec![0, 4, 0], vec![0, 0, 0]];
    let per_class = ["cat", "dog", "ferret"]
        .iter()
        .map(|name| ClassMetrics {
            class: name.to_string(),
            precision: 0.0,
            recall: 0.0,
            support: 0,
        })
        .collect();
    let evaluation = Evaluation {
        n_samples: 12,
        accuracy: 10.0 / 12.0,
        mean_loss: 0.5,
        per_class,
        confusion_matrix: counts,
    };
    let matrix = ConfusionMatrix::new(&evaluation, "the test split of pets");
    let png = png_of(&matrix);
    let cases = [((0, 0), 0.75), ((0, 1), 0.25), ((1, 1), 1.0), ((1, 0), 0.0), ((2, 2), 0.0)];
    for ((t, p), fraction) in cases {
        let color = png.pixel(at(matrix.cell_origin(t, p), (2, 2)));
        assert_eq!(color, SEQUENTIAL.color(fraction), "cell ({t}, {p})");
    }
    let svg = svg_of(&matrix);
    assert!(svg.contains("Confusion matrix: accuracy 0.8333 on 12 samples"));
    for label in ["cat", "ferret", "true class", "predicted class", ">\n6\n<", ">\n2\n<"] {
        assert!(svg.contains(label), "{label} in the SVG");
    }
}

// ---------------------------------------------------------------------------------------------
// `softmax plot`

#[test]
fn plot_commands_draw_digits_mnist_and_cifar() {
    let dir = tempfile::tempdir().unwrap();
    let sources = [("digits", "digits".to_string()), ("mnist", mnist()), ("cifar", cifar())];
    for (name, data) in &sources {
        let (model, history) = train(dir.path(), name, data, &["--cifar-validation", "10"]);
        let (model, history) = (text(&model), text(&history));
        for extension in ["png", "svg"] {
            let out =
                |picture: &str| text(&dir.path().join(format!("{name}_{picture}.{extension}")));
            let (weights, curves, confusion) = (out("weights"), out("history"), out("confusion"));
            let runs = [
                vec!["plot", "weights", "--model", &model, "--out", &weights],
                vec!["plot", "history", "--history", &history, "--out", &curves],
                vec!["plot", "confusion", "--model", &model, "--data", data, "--out", &confusion]
                    .into_iter()
                    .chain(["--cifar-validation", "10"])
                    .collect(),
            ];
            for args in runs {
                let written = json(&args);
                let path = PathBuf::from(written["out"].as_str().unwrap());
                let size = (
                    written["width"].as_u64().unwrap() as u32,
                    written["height"].as_u64().unwrap() as u32,
                );
                let bytes = std::fs::read(&path).unwrap();
                match extension {
                    "png" => {
                        let png = Png::decode(&bytes);
                        assert_eq!((png.width, png.height), size, "{}", path.display());
                    }
                    _ => assert_eq!(svg_size(&String::from_utf8(bytes).unwrap()), size),
                }
            }
        }
    }
    // CIFAR-10 templates: ten tiles of at least 64 pixels, in two rows of five.
    let cifar_weights = Png::decode(&std::fs::read(dir.path().join("cifar_weights.png")).unwrap());
    assert!(cifar_weights.width >= 5 * 64 && cifar_weights.height >= 2 * 64);
}

#[test]
fn plot_tune_draws_the_results_of_softmax_tune() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results.json");
    let mut args =
        vec!["tune", "--optimizer", "sgd", "--epochs", "2", "--lr", "1e-3,1e-2", "--reg"];
    let results_text = text(&results);
    args.extend(["1e-4,1e-2", "--quiet", "--results", &results_text]);
    let report = json(&args);
    let read = TuningResults::read(&results).unwrap();
    let best = TuningMap::new(&read).unwrap().best();
    assert_eq!(read.results[best].lr, report["best"]["lr"].as_f64().unwrap());
    assert_eq!(read.results[best].reg, report["best"]["reg"].as_f64().unwrap());
    let out = dir.path().join("tuning.png");
    let written = json(&["plot", "tune", "--results", &results_text, "--out", &text(&out)]);
    let png = Png::decode(&std::fs::read(&out).unwrap());
    assert_eq!(u64::from(png.width), written["width"].as_u64().unwrap());
}

#[test]
fn plot_errors_name_the_file_and_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let (model, history) = train(dir.path(), "digits", "digits", &[]);
    let (model, history) = (text(&model), text(&history));
    let path = |name: &str| text(&dir.path().join(name));
    std::fs::write(
        dir.path().join("empty.csv"),
        "iteration,epoch,loss,train_accuracy,val_accuracy\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("zero_reg.json"),
        r#"{"results": [{"lr": 1e-3, "reg": 0, "train_accuracy": 0.5, "val_accuracy": 0.5,
            "objective": 0.7, "iterations": 3, "seconds": 0.1}],
            "best": null, "reg_convention": "half", "optimizer": "sgd", "data": "by hand"}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("not_results.json"), r#"{"lr": 1}"#).unwrap();
    let cases: Vec<(Vec<String>, Vec<String>)> = vec![
        (
            vec!["weights".into(), "--model".into(), model.clone(), "--out".into(), path("w.jpg")],
            vec![path("w.jpg"), "must end in .png or .svg".into()],
        ),
        (
            vec![
                "weights".into(),
                "--model".into(),
                path("missing.safetensors"),
                "--out".into(),
                path("w.png"),
            ],
            vec![path("missing.safetensors")],
        ),
        (
            vec![
                "history".into(),
                "--history".into(),
                path("missing.csv"),
                "--out".into(),
                path("h.png"),
            ],
            vec![path("missing.csv")],
        ),
        (
            vec![
                "history".into(),
                "--history".into(),
                path("empty.csv"),
                "--out".into(),
                path("h.png"),
            ],
            vec![path("empty.csv"), "no step".into()],
        ),
        (
            vec![
                "history".into(),
                "--history".into(),
                model.clone(),
                "--out".into(),
                path("h.png"),
            ],
            vec![model.clone(), "not a training history".into()],
        ),
        (
            vec![
                "history".into(),
                "--history".into(),
                history.clone(),
                "--out".into(),
                path("h.pdf"),
            ],
            vec![path("h.pdf")],
        ),
        (
            vec![
                "tune".into(),
                "--results".into(),
                path("missing.json"),
                "--out".into(),
                path("t.png"),
            ],
            vec![path("missing.json")],
        ),
        (
            vec![
                "tune".into(),
                "--results".into(),
                path("zero_reg.json"),
                "--out".into(),
                path("t.png"),
            ],
            vec![path("zero_reg.json"), "reg = 0".into()],
        ),
        (
            vec![
                "tune".into(),
                "--results".into(),
                path("not_results.json"),
                "--out".into(),
                path("t.png"),
            ],
            vec![path("not_results.json"), "softmax tune --results".into()],
        ),
        (
            vec![
                "confusion".into(),
                "--model".into(),
                model.clone(),
                "--data".into(),
                mnist(),
                "--out".into(),
                path("c.png"),
            ],
            vec!["784".into(), "64".into()],
        ),
    ];
    for (args, expected) in cases {
        let mut all = vec!["plot"];
        all.extend(args.iter().map(String::as_str));
        let stderr = failure(&all);
        for part in expected {
            assert!(stderr.contains(&part), "{all:?}: {stderr:?} should name {part:?}");
        }
    }
    assert!(!dir.path().join("w.png").exists() && !dir.path().join("h.png").exists());
}

// ---------------------------------------------------------------------------------------------
// report.html

/// The page of a report folder, checking what every page must be: self-contained (no external
/// resource, no script), each picture beside it embedded byte for byte and linked.
fn page(dir: &Path, pictures: &[&str]) -> String {
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    for external in ["http://", "https://", "<script", "<link", "url("] {
        assert!(!html.contains(external), "the page holds {external}");
    }
    for picture in pictures {
        let bytes = std::fs::read(dir.join(picture)).unwrap();
        Png::decode(&bytes);
        let embedded =
            format!("src=\"data:image/png;base64,{}\" alt=\"{picture}\"", BASE64.encode(&bytes));
        assert!(html.contains(&embedded), "{picture} is embedded as written");
        assert!(html.contains(&format!("<a href=\"{picture}\">")), "{picture} is linked");
    }
    let claimed: Vec<&str> = html
        .split("alt=\"")
        .skip(1)
        .map(|rest| &rest[..rest.find('"').unwrap()])
        .filter(|alt| alt.ends_with(".png"))
        .collect();
    assert_eq!(claimed, pictures, "the page shows exactly these pictures, in this order");
    html
}

/// The `<td>` of the summary row `name`.
fn summary_value(html: &str, name: &str) -> String {
    let row = format!("<tr><th>{name}</th><td>");
    let from = html.find(&row).unwrap_or_else(|| panic!("a '{name}' row")) + row.len();
    html[from..from + html[from..].find("</td>").unwrap()].to_string()
}

#[test]
fn train_report_embeds_every_picture_and_the_run_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report");
    let model = dir.path().join("digits.safetensors");
    let out = json(&[
        "train",
        "--optimizer",
        "sgd",
        "--epochs",
        "10",
        "--quiet",
        "--model",
        &text(&model),
        "--report",
        &text(&report),
    ]);
    let html = page(&report, &["weights.png", "history.png", "confusion.png"]);
    assert!(!report.join("tuning.png").exists());
    for (name, key) in [
        ("train accuracy", "train_accuracy"),
        ("validation accuracy", "val_accuracy"),
        ("test accuracy", "test_accuracy"),
    ] {
        let accuracy = out[key].as_f64().unwrap();
        assert_eq!(summary_value(&html, name), format!("{accuracy:.4}"), "{name}");
    }
    assert_eq!(summary_value(&html, "iterations"), out["iterations"].to_string());
    assert_eq!(summary_value(&html, "stop reason"), out["stop_reason"].as_str().unwrap());
    // The confusion matrix and the per-class table are of the test split: eval's numbers.
    let evaluation = json(&["eval", "--model", &text(&model), "--data", "digits"]);
    assert!(html.contains("On the test split of digits."));
    assert_per_class_rows(&html, &evaluation);
    // Settings, and samples right and wrong with their images and bars.
    assert!(html.contains("<tr><th>optimizer</th><td>sgd</td></tr>"));
    assert!(html.contains("<tr><th>features</th><td>64 (1×8×8 images)</td></tr>"));
    assert!(html.matches("<div class=\"sample right\">").count() == 5);
    let wrong = html.matches("<div class=\"sample wrong\">").count();
    assert!((1..=5).contains(&wrong), "{wrong} mistakes shown");
    assert_eq!(html.matches("alt=\"sample ").count(), 5 + wrong, "one image per sample");
    assert_eq!(html.matches("<span class=\"track\">").count(), 5 * (5 + wrong), "5 bars each");
}

#[test]
fn train_report_without_a_test_split_evaluates_the_split_as_loaded() {
    // Training preprocesses the training and validation splits in place; the report on one of
    // them must still see the raw data, as `eval` does on the saved model.
    let dir = tempfile::tempdir().unwrap();
    let csv = format!("csv:{}", text(&fixture("data/digits_named.csv")));
    for (val_fraction, split) in [("0.2", "validation"), ("0", "train")] {
        let report = dir.path().join(split);
        let model = dir.path().join(format!("{split}.safetensors"));
        json(&[
            "train",
            "--data",
            &csv,
            "--val-fraction",
            val_fraction,
            "--quiet",
            "--model",
            &text(&model),
            "--report",
            &text(&report),
        ]);
        let html = page(&report, &["weights.png", "history.png", "confusion.png"]);
        assert!(html.contains(&format!("On the {split} split of csv:")), "{split}");
        let evaluation = json(&[
            "eval",
            "--model",
            &text(&model),
            "--data",
            &csv,
            "--val-fraction",
            val_fraction,
            "--split",
            split,
        ]);
        assert_per_class_rows(&html, &evaluation);
    }
}

#[test]
fn report_command_matches_eval_and_draws_the_history_and_tuning_map() {
    let dir = tempfile::tempdir().unwrap();
    let (model, history) = train(dir.path(), "digits", "digits", &[]);
    let results = dir.path().join("results.json");
    json(&[
        "tune",
        "--optimizer",
        "sgd",
        "--epochs",
        "2",
        "--lr",
        "1e-2,1e-1",
        "--reg",
        "1e-4,1e-3",
        "--quiet",
        "--results",
        &text(&results),
    ]);
    let report = dir.path().join("nested/report");
    let written = json(&[
        "report",
        "--model",
        &text(&model),
        "--data",
        "digits",
        "--out",
        &text(&report),
        "--history",
        &text(&history),
        "--results",
        &text(&results),
    ]);
    let files: Vec<&str> =
        written["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    assert_eq!(files.len(), 5);
    assert!(files[4].ends_with("report.html"));
    let html = page(&report, &["weights.png", "history.png", "tuning.png", "confusion.png"]);
    for split in ["test", "validation", "train"] {
        let flag = if split == "train" { "train" } else { split };
        let evaluation =
            json(&["eval", "--model", &text(&model), "--data", "digits", "--split", flag]);
        let accuracy = evaluation["accuracy"].as_f64().unwrap();
        assert_eq!(summary_value(&html, &format!("{split} accuracy")), format!("{accuracy:.4}"));
        assert_eq!(
            summary_value(&html, &format!("{split} samples")),
            evaluation["n_samples"].to_string()
        );
    }
}

#[test]
fn reports_show_cifar_samples_as_images_and_csv_weights_as_a_heat_map() {
    let dir = tempfile::tempdir().unwrap();
    let cifar_report = dir.path().join("cifar");
    let mut args = vec!["train", "--data"];
    let (data, out) = (cifar(), text(&cifar_report));
    args.extend([data.as_str(), "--cifar-validation", "10", "--optimizer", "sgd", "--iters", "30"]);
    args.extend(["--lr", "1e-7", "--reg", "2.5e4", "--reg-convention", "full"]);
    args.extend(["--preprocess", "center", "--bias", "trick", "--quiet", "--report", &out]);
    json(&args);
    let html = page(&cifar_report, &["weights.png", "history.png", "confusion.png"]);
    assert!(html.contains("<tr><th>features</th><td>3072 (3×32×32 images)</td></tr>"));
    assert!(html.contains("alt=\"sample "), "CIFAR samples are shown as images");
    let weights = Png::decode(&std::fs::read(cifar_report.join("weights.png")).unwrap());
    assert!(weights.width >= 5 * 64);

    let csv_report = dir.path().join("csv");
    let csv = format!("csv:{}", text(&fixture("data/digits_named.csv")));
    json(&[
        "train",
        "--data",
        &csv,
        "--val-fraction",
        "0",
        "--quiet",
        "--report",
        &text(&csv_report),
    ]);
    let html = page(&csv_report, &["weights.png", "history.png", "confusion.png"]);
    assert!(html.contains("The learned weights: one row per class, one column per feature."));
    assert!(!html.contains("alt=\"sample "), "no image for non-image samples");
    assert!(html.contains("On the train split of csv:"));
    assert!(html.contains("<span class=\"name\">zero</span>"), "class names label the bars");
}

#[test]
fn report_errors_name_the_file_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let (model, _) = train(dir.path(), "digits", "digits", &[]);
    let out = dir.path().join("report");
    let report_with = |history: &std::path::Path| {
        let (model, out, history) = (text(&model), text(&out), text(history));
        failure(&[
            "report",
            "--model",
            &model,
            "--data",
            "digits",
            "--out",
            &out,
            "--history",
            &history,
        ])
    };
    let missing = dir.path().join("missing.csv");
    let stderr = report_with(&missing);
    assert!(stderr.contains(&text(&missing)), "{stderr}");
    assert!(!out.exists(), "nothing written");
    // A history with nothing to draw is named too, before any work.
    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, "iteration,epoch,loss,train_accuracy,val_accuracy\n").unwrap();
    let stderr = report_with(&empty);
    assert!(stderr.contains(&text(&empty)) && stderr.contains("no step"), "{stderr}");
    assert!(!out.exists(), "nothing written");

    let file = dir.path().join("a_file");
    std::fs::write(&file, "").unwrap();
    let stderr = failure(&["train", "--report", &text(&file)]);
    assert!(stderr.contains("not a folder") && stderr.contains(&text(&file)), "{stderr}");
    // A report folder that cannot be made under a file fails the run before training: the
    // model file that was there is left as it was (it used to be replaced, then the report
    // failed), and `report --out` fails before its work too.
    let under_file = file.join("report");
    let before = std::fs::read(&model).unwrap();
    let stderr = failure(&["train", "--model", &text(&model), "--report", &text(&under_file)]);
    assert!(stderr.contains("not a folder") && stderr.contains(&text(&under_file)), "{stderr}");
    assert_eq!(std::fs::read(&model).unwrap(), before, "the model is untouched");
    let stderr = failure(&["report", "--model", &text(&model), "--out", &text(&under_file)]);
    assert!(stderr.contains("--out") && stderr.contains("not a folder"), "{stderr}");
}
