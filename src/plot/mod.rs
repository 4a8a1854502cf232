//! Pictures of a classifier and its training, as PNG or SVG files.
//!
//! | picture | what it shows | made from |
//! |---|---|---|
//! | [`Templates`] | each class's weights as an image, CS231n's "templates" | a [`Model`](crate::model::Model) of image data |
//! | [`WeightHeatMap`] | the weights as a class × feature heat map | any model |
//! | [`TrainingCurves`] | the loss of every step, raw and smoothed; training and validation accuracy at every checkpoint | a [`History`](crate::train::History) |
//! | [`TuningMap`] | validation and training accuracy over log10 lr × log10 reg, the best pair ringed | [`TuningResults`](crate::tune::TuningResults) |
//! | [`ConfusionMatrix`] | the counts of true × predicted classes | an [`Evaluation`](crate::metrics::Evaluation) |
//!
//! [`WeightsPicture`] picks templates or the heat map for a model. Every picture implements
//! [`Picture`]: [`Picture::render`] gives the bytes of a PNG or an SVG file (chosen by the
//! file name's extension), [`Picture::save`] writes them atomically. Text is set in DejaVu
//! Sans, compiled into the library, so drawing needs no system font, no display and no
//! network.
//!
//! ```
//! use softmax::plot::{Picture, WeightsPicture};
//! # let model = softmax::fit::fit(
//! #     softmax::data::load(&softmax::data::DataSpec::Digits, &Default::default())?.train,
//! #     None, &softmax::fit::FitOptions::default().check()?,
//! #     &mut |_| std::ops::ControlFlow::Continue(()),
//! # )?.model;
//! let picture = WeightsPicture::new(&model); // digits: ten 8×8 templates
//! let png = picture.render(std::path::Path::new("templates.png"))?;
//! assert_eq!(&png[1..4], b"PNG");
//! # Ok::<(), softmax::Error>(())
//! ```

mod canvas;
mod chart;
mod colormap;
mod confusion;
mod history;
mod image;
mod matrix;
mod text;
mod tiles;
mod tune;
mod weights;

pub use canvas::{DrawError, DrawResult, Format, Picture};
pub use colormap::{Colormap, DIVERGING, SEQUENTIAL, VIRIDIS};
pub use confusion::ConfusionMatrix;
pub use history::TrainingCurves;
pub use image::RgbImage;
pub use tune::TuningMap;
pub use weights::{Templates, WeightHeatMap, WeightsPicture};
