//! A one-page report of a model: its settings, its numbers, its pictures and a few samples with
//! their predicted probabilities, as one HTML file that opens from disk with no server and no
//! network.
//!
//! [`Report::write`] fills a folder:
//!
//! | file | holds |
//! |---|---|
//! | `weights.png` | the class templates, or the weight heat map ([`WeightsPicture`]) |
//! | `history.png` | the training curves ([`TrainingCurves`]), when a history is given |
//! | `tuning.png` | the tuning map ([`TuningMap`]), when tuning results are given |
//! | `confusion.png` | the confusion matrix on the evaluated split ([`ConfusionMatrix`]) |
//! | `report.html` | the page: every picture above embedded as a `data:` URI (it stands alone), no external CSS, script or font |
//!
//! The samples are the first sample the model gets right of up to five classes spread over the
//! class list, and its five most confident mistakes; each shows its top probabilities as bars
//! and, for image data, the image itself.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ndarray::{CowArray, Ix2};

use crate::atomic::write_atomically;
use crate::data::{Dataset, ImageShape, MappedDataset};
use crate::metrics::{Evaluation, Scored};
use crate::model::Model;
use crate::plot::{ConfusionMatrix, Picture, RgbImage, TrainingCurves, TuningMap, WeightsPicture};
use crate::train::History;
use crate::{Error, Result};

/// The file name of the page in the report's folder.
pub const PAGE: &str = "report.html";
/// How many samples of each kind (right, wrong) the page shows.
const SAMPLES_PER_KIND: usize = 5;
/// How many class probabilities each sample shows, the largest first.
const BARS: usize = 5;
/// Sample images are upscaled to at least this many pixels a side.
const SAMPLE_SIDE: usize = 96;

/// An accuracy as the report writes it: 4 decimals (`0.9611`).
pub fn format_accuracy(accuracy: f64) -> String {
    format!("{accuracy:.4}")
}

/// A model's evaluation on one split of a data set: what the confusion matrix and the samples
/// show.
#[derive(Clone, Debug)]
pub struct Evaluated {
    /// The split's name: "test", "validation" or "train".
    pub split: String,
    /// The data set, as the user named it (`digits`, `mnist:DIR`, ...).
    pub source: String,
    /// The split's samples, their labels aligned with the model's classes.
    pub data: SplitData,
    pub evaluation: Evaluation,
    /// The pass the evaluation came from: each sample's prediction and its probability, from
    /// which the samples shown are picked ([`crate::metrics::evaluate_scored`]).
    pub scored: Scored,
}

/// The samples of an evaluated split: read into memory, or rows of a memory-mapped matrix that
/// the report reads a chunk at a time (a probe's embeddings are never read whole).
#[derive(Clone, Debug)]
pub enum SplitData {
    Loaded(Dataset),
    Mapped(MappedDataset),
}

impl SplitData {
    /// One label per sample, in `0..C`.
    pub fn labels(&self) -> &[usize] {
        match self {
            SplitData::Loaded(data) => &data.labels,
            SplitData::Mapped(data) => &data.labels,
        }
    }

    /// The samples `rows` (float32, rows.len() × D): a view of the loaded inputs, or the rows
    /// read from the mapped file ([`MappedDataset::read_rows`]).
    fn read(&self, rows: std::ops::Range<usize>) -> Result<CowArray<'_, f32, Ix2>> {
        match self {
            SplitData::Loaded(data) => Ok(CowArray::from(data.inputs.slice(ndarray::s![rows, ..]))),
            SplitData::Mapped(data) => Ok(CowArray::from(data.read_rows(rows)?)),
        }
    }

    /// The images' shape, for image data read into memory.
    fn image_shape(&self) -> Option<ImageShape> {
        match self {
            SplitData::Loaded(data) => data.image_shape,
            SplitData::Mapped(_) => None,
        }
    }
}

impl Evaluated {
    /// "the test split of digits".
    pub fn what(&self) -> String {
        format!("the {} split of {}", self.split, self.source)
    }
}

/// Everything the page shows.
pub struct Report<'a> {
    /// The page's heading, e.g. "Training run".
    pub title: String,
    pub model: &'a Model,
    /// Where the model was saved, if it was.
    pub model_path: Option<&'a Path>,
    /// Where the data came from and how it was split.
    pub data_description: &'a str,
    /// The run's numbers, in order, already formatted: ("test accuracy", "0.9611"), ...
    pub summary: Vec<(String, String)>,
    pub evaluated: &'a Evaluated,
    pub history: Option<&'a History>,
    /// The tuning map of a grid search's results.
    pub tuning: Option<&'a TuningMap>,
}

/// A picture to write beside the page and embed in it.
struct Figure {
    file_name: &'static str,
    png: Vec<u8>,
    caption: String,
}

/// A sample shown on the page, with its probabilities.
struct Sample {
    index: usize,
    label: usize,
    predicted: usize,
    probabilities: Vec<f64>,
    /// The sample as a PNG, for image data.
    image: Option<Vec<u8>>,
}

impl Report<'_> {
    /// Writes the pictures and `report.html` into `dir` (created if missing), each file
    /// atomically, and returns their paths, the page last.
    ///
    /// # Errors
    /// A folder or file that cannot be written, a history without steps, and samples the model cannot score (another number of features).
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        // Everything is drawn before anything is written: an error leaves no partial report.
        let (right, wrong) = self.samples()?;
        let figures = self.figures(dir)?;
        let page = self.html(&figures, &right, &wrong);
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut written = Vec::new();
        for figure in &figures {
            let path = dir.join(figure.file_name);
            write_atomically(&path, |out| out.write_all(&figure.png))?;
            written.push(path);
        }
        let page_path = dir.join(PAGE);
        write_atomically(&page_path, |out| out.write_all(page.as_bytes()))?;
        written.push(page_path);
        Ok(written)
    }

    /// Draws every picture that applies, as PNG (errors name the file it is for in `dir`).
    fn figures(&self, dir: &Path) -> Result<Vec<Figure>> {
        let mut figures = Vec::new();
        let weights = WeightsPicture::new(self.model);
        let caption = match weights {
            WeightsPicture::Templates(_) => {
                "The learned weights of each class as an image (the templates)."
            }
            WeightsPicture::HeatMap(_) => {
                "The learned weights: one row per class, one column per feature."
            }
        };
        let caption = format!(
            "{caption} This is W as stored, which acts on the preprocessed features \
             ({} preprocessing), without the bias.",
            self.model.preprocessor().kind
        );
        figures.push(figure(dir, "weights.png", &weights, caption)?);
        if let Some(history) = self.history {
            let caption = "The loss of every step, raw and smoothed, and the training and \
                           validation accuracy at every checkpoint.";
            figures.push(figure(
                dir,
                "history.png",
                &TrainingCurves::new(history)?,
                caption.into(),
            )?);
        }
        if let Some(tuning) = self.tuning {
            let caption = "The grid search: validation (left) and training (right) accuracy over \
                           log10 learning rate × log10 regularization; the best pair is ringed.";
            figures.push(figure(dir, "tuning.png", tuning, caption.into())?);
        }
        let what = self.evaluated.what();
        let confusion = ConfusionMatrix::new(&self.evaluated.evaluation, &what);
        let caption = format!(
            "The confusion matrix on {what}: rows are the true classes, columns the predicted ones."
        );
        figures.push(figure(dir, "confusion.png", &confusion, caption)?);
        Ok(figures)
    }

    /// The samples shown: right ones of classes spread over the class list, then the most
    /// confident mistakes.
    fn samples(&self) -> Result<(Vec<Sample>, Vec<Sample>)> {
        let data = &self.evaluated.data;
        let labels = data.labels();
        // Whole rows of probabilities only for the samples shown: the others' predictions come
        // from the evaluation's pass.
        let Scored { predicted, confidence, .. } = &self.evaluated.scored;
        let sample = |index: usize| -> Result<Sample> {
            let inputs = data.read(index..index + 1)?;
            Ok(Sample {
                index,
                label: labels[index],
                predicted: predicted[index],
                probabilities: self.model.predict_probabilities(inputs.view())?.row(0).to_vec(),
                image: data.image_shape().and_then(|shape| sample_png(inputs.row(0), shape)),
            })
        };
        let n_classes = self.model.n_classes();
        let shown_classes = SAMPLES_PER_KIND.min(n_classes);
        let right = (0..shown_classes)
            .filter_map(|k| {
                let class = k * n_classes / shown_classes;
                (0..labels.len()).find(|&i| labels[i] == class && predicted[i] == class)
            })
            .map(sample)
            .collect::<Result<_>>()?;
        let mut mistakes: Vec<usize> =
            (0..labels.len()).filter(|&i| predicted[i] != labels[i]).collect();
        mistakes.sort_by(|&a, &b| confidence[b].total_cmp(&confidence[a]).then(a.cmp(&b)));
        let wrong =
            mistakes.into_iter().take(SAMPLES_PER_KIND).map(sample).collect::<Result<_>>()?;
        Ok((right, wrong))
    }

    /// The page.
    fn html(&self, figures: &[Figure], right: &[Sample], wrong: &[Sample]) -> String {
        let mut page = String::new();
        let title = escape(&self.title);
        let _ = write!(
            page,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n\
             <p class=\"lead\">{}</p>\n",
            escape(self.data_description)
        );
        if let Some(path) = self.model_path {
            let _ = writeln!(
                page,
                "<p class=\"lead\">Model: <code>{}</code></p>",
                escape(&path.display().to_string())
            );
        }
        page.push_str("<section>\n<h2>Summary</h2>\n");
        page.push_str(&table(
            &["", ""],
            self.summary.iter().map(|(k, v)| vec![k.clone(), v.clone()]),
            "numbers",
        ));
        page.push_str("</section>\n<section>\n<h2>Settings</h2>\n");
        page.push_str(&table(
            &["", ""],
            self.settings().into_iter().map(|(k, v)| vec![k, v]),
            "settings",
        ));
        page.push_str("</section>\n<section>\n<h2>Pictures</h2>\n");
        for figure in figures {
            let _ = write!(
                page,
                "<figure>\n<img src=\"data:image/png;base64,{}\" alt=\"{name}\">\n\
                 <figcaption>{} (<a href=\"{name}\">{name}</a>)</figcaption>\n</figure>\n",
                BASE64.encode(&figure.png),
                escape(&figure.caption),
                name = figure.file_name,
            );
        }
        let evaluation = &self.evaluated.evaluation;
        let what = escape(&self.evaluated.what());
        let _ = write!(page, "</section>\n<section>\n<h2>Per class</h2>\n<p>On {what}.</p>\n");
        let rows = evaluation.per_class.iter().map(|c| {
            vec![
                c.class.clone(),
                format!("{:.4}", c.precision),
                format!("{:.4}", c.recall),
                c.support.to_string(),
            ]
        });
        page.push_str(&table(&["class", "precision", "recall", "samples"], rows, "per-class"));
        let _ = write!(
            page,
            "</section>\n<section>\n<h2>Samples</h2>\n<p>From {what}, with the {BARS} largest \
             of their predicted probabilities.</p>\n<h3>Classified right</h3>\n"
        );
        page.push_str(&self.sample_cards(right, "none: every class was missed"));
        page.push_str("<h3>Classified wrong, the most confident first</h3>\n");
        page.push_str(&self.sample_cards(wrong, "none: every sample is classified right"));
        let _ = write!(
            page,
            "</section>\n<footer>Written by softmax {}.</footer>\n</body>\n</html>\n",
            env!("CARGO_PKG_VERSION")
        );
        page
    }

    /// The model's settings: its classes and features, then its training options.
    fn settings(&self) -> Vec<(String, String)> {
        let model = self.model;
        let mut classes =
            model.class_names().iter().take(20).cloned().collect::<Vec<_>>().join(", ");
        if model.n_classes() > 20 {
            classes.push_str(", …");
        }
        let features = match model.image_shape() {
            Some(ImageShape { channels, height, width }) => {
                format!("{} ({channels}×{height}×{width} images)", model.n_features())
            }
            None => model.n_features().to_string(),
        };
        let mut settings = vec![
            ("classes".to_string(), format!("{} ({classes})", model.n_classes())),
            ("features".to_string(), features),
            ("stored as".to_string(), model.precision().to_string()),
        ];
        if let Some(options) = model.training().as_object() {
            for (key, value) in options {
                settings.push((key.replace('_', " "), setting(value)));
            }
        }
        settings
    }

    /// One card per sample: its image, its true and predicted class, its top probabilities.
    fn sample_cards(&self, samples: &[Sample], none: &str) -> String {
        if samples.is_empty() {
            return format!("<p>{none}</p>\n");
        }
        let names = self.model.class_names();
        let mut cards = String::from("<div class=\"samples\">\n");
        for sample in samples {
            let verdict = if sample.label == sample.predicted { "right" } else { "wrong" };
            let _ = writeln!(cards, "<div class=\"sample {verdict}\">");
            if let Some(png) = &sample.image {
                let _ = writeln!(
                    cards,
                    "<img src=\"data:image/png;base64,{}\" alt=\"sample {}\">",
                    BASE64.encode(png),
                    sample.index
                );
            }
            let _ = write!(
                cards,
                "<p>sample {}: <b>{}</b>, predicted <b>{}</b></p>\n<div class=\"bars\">\n",
                sample.index,
                escape(&names[sample.label]),
                escape(&names[sample.predicted])
            );
            let mut order: Vec<usize> = (0..sample.probabilities.len()).collect();
            order.sort_by(|&a, &b| sample.probabilities[b].total_cmp(&sample.probabilities[a]));
            for class in order.into_iter().take(BARS) {
                let p = sample.probabilities[class];
                let kind = match class {
                    c if c == sample.label => " true",
                    c if c == sample.predicted => " mistaken",
                    _ => "",
                };
                let _ = writeln!(
                    cards,
                    "<div class=\"bar{kind}\"><span class=\"name\">{}</span>\
                     <span class=\"track\"><span style=\"width:{:.1}%\"></span></span>\
                     <span class=\"p\">{p:.3}</span></div>",
                    escape(&names[class]),
                    100.0 * p
                );
            }
            cards.push_str("</div>\n</div>\n");
        }
        cards.push_str("</div>\n");
        cards
    }
}

/// A training option as the settings table writes it: text without quotes, `default` for an
/// option left unset, an object (`{"iterations": 1500}`) as its entries (`iterations 1500`).
fn setting(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Null => "default".to_string(),
        serde_json::Value::Object(entries) => {
            let entries = entries.iter().map(|(key, value)| format!("{key} {}", setting(value)));
            entries.collect::<Vec<_>>().join(", ")
        }
        other => other.to_string(),
    }
}

/// `picture` rendered as the PNG file `file_name` of `dir`, with its caption.
fn figure(
    dir: &Path,
    file_name: &'static str,
    picture: &impl Picture,
    caption: String,
) -> Result<Figure> {
    let png = picture.render(&dir.join(file_name))?;
    Ok(Figure { file_name, png, caption })
}

/// A sample of image data as a PNG: its pixels stretched over their own range (as an
/// image viewer shows raw values), upscaled to about [`SAMPLE_SIDE`] pixels a side.
fn sample_png(pixels: ndarray::ArrayView1<f32>, shape: ImageShape) -> Option<Vec<u8>> {
    let values: Vec<f64> = pixels.iter().map(|&v| f64::from(v)).collect();
    let range = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let image = RgbImage::rescaled(&values, shape, range);
    let scale = SAMPLE_SIDE.div_ceil(shape.height.max(shape.width)).max(1);
    image.to_png(scale).ok()
}

/// An HTML table with a header row (none if every heading is empty).
fn table(headings: &[&str], rows: impl Iterator<Item = Vec<String>>, class: &str) -> String {
    let mut html = format!("<table class=\"{class}\">\n");
    if headings.iter().any(|h| !h.is_empty()) {
        html.push_str("<tr>");
        for heading in headings {
            let _ = write!(html, "<th>{}</th>", escape(heading));
        }
        html.push_str("</tr>\n");
    }
    for row in rows {
        html.push_str("<tr>");
        for (column, cell) in row.iter().enumerate() {
            let tag = if column == 0 { "th" } else { "td" };
            let _ = write!(html, "<{tag}>{}</{tag}>", escape(cell));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</table>\n");
    html
}

/// `text` with the characters HTML gives a meaning escaped.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// The page's style sheet: the system's sans-serif font, no external resource.
const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; max-width: 1180px;
       margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.4; }
h1 { margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 1.6em; }
.lead { color: #555; margin: 0.2em 0; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { text-align: left; padding: 0.2em 0.9em 0.2em 0; vertical-align: top; }
tr th:first-child { font-weight: normal; color: #555; }
table.numbers td { font-weight: bold; font-variant-numeric: tabular-nums; }
table.per-class td { font-variant-numeric: tabular-nums; }
table.per-class tr:first-child th { color: #222; font-weight: bold; }
figure { margin: 1.2em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.95em; }
.samples { display: flex; flex-wrap: wrap; gap: 12px; }
.sample { border: 1px solid #ddd; border-radius: 6px; padding: 8px; width: 196px; }
.sample.right { border-top: 4px solid #2e7d32; }
.sample.wrong { border-top: 4px solid #c62828; }
.sample img { display: block; width: 96px; image-rendering: pixelated; margin-bottom: 4px; }
.sample p { margin: 0 0 6px 0; font-size: 0.9em; }
.bar { display: flex; align-items: center; gap: 4px; font-size: 0.8em; margin: 2px 0; }
.bar .name { width: 76px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.bar .track { flex: 1; background: #eee; height: 10px; }
.bar .track span { display: block; height: 10px; background: #90a4ae; }
.bar.true .track span { background: #2e7d32; }
.bar.mistaken .track span { background: #c62828; }
.bar .p { width: 38px; text-align: right; font-variant-numeric: tabular-nums; }
footer { margin-top: 2em; color: #888; font-size: 0.85em; }
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_special_characters_are_escaped() {
        assert_eq!(escape("a<b & \"c\" 'd'>"), "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;");
    }

    #[test]
    fn settings_read_as_text() {
        let value = serde_json::json!({"iterations": 1500, "optimizer": "sgd"});
        assert_eq!(setting(&value), "iterations 1500, optimizer sgd");
        assert_eq!(setting(&serde_json::Value::Null), "default");
        assert_eq!(setting(&serde_json::json!(1e-7)), "1e-7");
    }

    #[test]
    fn tables_escape_cells_and_head_rows() {
        let rows = vec![vec!["x<y".to_string(), "1".to_string()]].into_iter();
        assert_eq!(
            table(&["", ""], rows, "numbers"),
            "<table class=\"numbers\">\n<tr><th>x&lt;y</th><td>1</td></tr>\n</table>\n"
        );
    }
}
