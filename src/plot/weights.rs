//! The learned weights: one image ("template") per class for image data, a class × feature
//! heat map otherwise.
//!
//! Both show W as stored in the model, without the bias. W acts on *preprocessed* features
//! x' = (x − offset) / scale, so these are the weights of the preprocessed pixels — as CS231n
//! draws them, whose W acts on mean-centred pixels. With `standardize` a pixel of small
//! variance gets a large weight per unit of raw intensity that W does not show.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::canvas::{
    DrawResult, HEADER_HEIGHT, Header, MARGIN, Picture, fit_text, format_number, text,
};
use super::colormap::{ColorBar, DIVERGING};
use super::image::RgbImage;
use super::matrix::HeatMap;
use super::tiles::TileGrid;
use crate::model::Model;
use crate::{Error, Result};

/// Templates are drawn at least this many pixels a side (nearest-neighbour upscaling).
const TEMPLATE_SIDE: usize = 128;
/// The heat map's matrix is about this wide, cells permitting.
const HEAT_MAP_WIDTH: usize = 900;

/// The weights picture that suits the model: [`Templates`] for image data, a
/// [`WeightHeatMap`] otherwise.
pub enum WeightsPicture {
    Templates(Templates),
    HeatMap(WeightHeatMap),
}

impl WeightsPicture {
    /// Templates when the model knows its image shape, the heat map when it does not.
    pub fn new(model: &Model) -> WeightsPicture {
        match Templates::new(model) {
            Ok(templates) => WeightsPicture::Templates(templates),
            Err(_) => WeightsPicture::HeatMap(WeightHeatMap::new(model)),
        }
    }
}

impl Picture for WeightsPicture {
    fn size(&self) -> (u32, u32) {
        match self {
            WeightsPicture::Templates(templates) => templates.size(),
            WeightsPicture::HeatMap(heat_map) => heat_map.size(),
        }
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        match self {
            WeightsPicture::Templates(templates) => templates.draw(area),
            WeightsPicture::HeatMap(heat_map) => heat_map.draw(area),
        }
    }
}

/// How the templates' colours come from the weights.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Coloring {
    /// Colour images: each channel mapped from [min, max] of all of W to 0–255 (CS231n).
    Rescaled { min: f64, max: f64 },
    /// Grey images: a diverging colormap, white at 0, over [−max |w|, max |w|].
    Signed { max_abs: f64 },
}

/// One tile per class, in class order, labelled with the class name: the class's row of W
/// reshaped to the image (channel-major C×H×W) and upscaled without smoothing. Colour images
/// are rescaled to 0–255 over the global min and max of W, as CS231n does, so tiles compare
/// with each other; grey images use a blue–white–red colormap centred on 0 with a colour bar,
/// which tells the pixels that vote for a class (red) from those that vote against it (blue).
pub struct Templates {
    class_names: Vec<String>,
    images: Vec<RgbImage>,
    coloring: Coloring,
    grid: TileGrid,
    scale: u32,
    header: Header,
}

impl Templates {
    /// The templates of an image model.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for a model that does not know its image shape (its data was
    /// not images: draw a [`WeightHeatMap`]).
    pub fn new(model: &Model) -> Result<Templates> {
        let Some(shape) = model.image_shape() else {
            return Err(Error::InvalidOption(format!(
                "the model's data were not images ({} features, no image shape), so its \
                 weights have no templates: draw them as a heat map",
                model.n_features()
            )));
        };
        let weights = model.weight();
        let min = weights.iter().copied().fold(f64::INFINITY, f64::min);
        let max = weights.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let coloring = match shape.channels {
            3 => Coloring::Rescaled { min, max },
            _ => Coloring::Signed { max_abs: min.abs().max(max.abs()) },
        };
        let images = weights
            .rows()
            .into_iter()
            .map(|row| {
                let values = row.to_vec();
                match coloring {
                    Coloring::Rescaled { min, max } => {
                        RgbImage::rescaled(&values, shape, (min, max))
                    }
                    Coloring::Signed { max_abs } => {
                        RgbImage::signed(&values, shape, DIVERGING, max_abs)
                    }
                }
            })
            .collect();
        let scale = TEMPLATE_SIDE.div_ceil(shape.height.max(shape.width)).max(1);
        let tile = ((shape.width * scale) as u32, (shape.height * scale) as u32);
        let header = Header {
            title: "Class templates: each class's weights W as an image".to_string(),
            subtitle: match coloring {
                Coloring::Rescaled { .. } => format!(
                    "W as stored (it acts on preprocessed pixels), each channel rescaled from \
                     [{}, {}] to 0–255 over all classes",
                    format_number(min),
                    format_number(max)
                ),
                Coloring::Signed { .. } => "W as stored (it acts on preprocessed pixels): red \
                     pixels raise the class's score, blue ones lower it"
                    .to_string(),
            },
        };
        Ok(Templates {
            class_names: model.class_names().to_vec(),
            images,
            coloring,
            grid: TileGrid::new(model.n_classes(), tile, HEADER_HEIGHT),
            scale: scale as u32,
            header,
        })
    }

    /// The top-left pixel of class `k`'s image in the picture.
    pub fn tile_origin(&self, k: usize) -> (u32, u32) {
        let (x, y) = self.grid.tile_origin(k);
        (x + self.left(), y)
    }

    /// The side of one image pixel in the picture, in pixels.
    pub fn scale(&self) -> u32 {
        self.scale
    }

    /// Where the grid starts: centred in the picture.
    fn left(&self) -> u32 {
        (self.size().0 - self.grid.width()) / 2
    }

    fn color_bar(&self) -> Option<ColorBar> {
        match self.coloring {
            Coloring::Signed { max_abs } => {
                Some(ColorBar { colormap: DIVERGING, range: (-max_abs, max_abs), label: "weight" })
            }
            Coloring::Rescaled { .. } => None,
        }
    }
}

/// The colour of the line around each tile, which shows where a white (zero) border ends.
const FRAME: RGBColor = RGBColor(200, 200, 200);

/// The width of the colour bar under grey templates.
const TEMPLATE_BAR_WIDTH: u32 = 300;

impl Picture for Templates {
    fn size(&self) -> (u32, u32) {
        let (bar_width, bar_height) = match self.color_bar() {
            Some(bar) => {
                (2 * MARGIN + bar.width_with_label(TEMPLATE_BAR_WIDTH), ColorBar::HEIGHT + MARGIN)
            }
            None => (0, 0),
        };
        let width = self.grid.width().max(self.header.width()).max(bar_width);
        (width, HEADER_HEIGHT + self.grid.height() + bar_height)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        self.header.draw(area)?;
        let tile_width = self.grid.tile_width;
        let label_style = text(15).pos(Pos::new(HPos::Center, VPos::Bottom));
        for (k, (image, name)) in self.images.iter().zip(&self.class_names).enumerate() {
            let (x, y) = self.tile_origin(k);
            let label = fit_text(name, 15, tile_width + 12);
            let label_bottom = y as i32 - 5; // in the label row, just above the tile
            area.draw_text(&label, &label_style, ((x + tile_width / 2) as i32, label_bottom))?;
            image.draw(area, (x as i32, y as i32), (self.scale, self.scale))?;
            let (x, y, w, h) =
                (x as i32, y as i32, tile_width as i32, self.grid.tile_height as i32);
            area.draw(&Rectangle::new([(x - 1, y - 1), (x + w, y + h)], FRAME.stroke_width(1)))?;
        }
        if let Some(color_bar) = self.color_bar() {
            let top = HEADER_HEIGHT + self.grid.height();
            color_bar.draw(
                area,
                (self.left() as i32 + MARGIN as i32, top as i32),
                TEMPLATE_BAR_WIDTH,
            )?;
        }
        Ok(())
    }
}

/// W as a heat map: one row per class, one column per feature (named when the data named its
/// features), blue–white–red centred on 0.
pub struct WeightHeatMap {
    heat_map: HeatMap,
}

impl WeightHeatMap {
    /// The heat map of any model's weights.
    pub fn new(model: &Model) -> WeightHeatMap {
        let (n_classes, n_features) = model.weight().dim();
        let max_abs = model.weight().iter().fold(0.0f64, |m, w| m.max(w.abs()));
        let cells = RgbImage::from_fn(n_classes, n_features, |class, feature| {
            DIVERGING.signed(model.weight()[[class, feature]], max_abs)
        });
        let column_labels = match model.feature_names() {
            Some(names) => names.to_vec(),
            None => (0..n_features).map(|j| j.to_string()).collect(),
        };
        let cell_width = (HEAT_MAP_WIDTH / n_features).clamp(1, 40) as u32;
        let cell_height = (600 / n_classes).clamp(4, 24) as u32;
        let heat_map = HeatMap {
            header: Header {
                title: "Weights W: one row per class, one column per feature".to_string(),
                subtitle: "W as stored (it acts on preprocessed features): red raises a \
                           class's score, blue lowers it"
                    .to_string(),
            },
            row_title: "class",
            column_title: "feature",
            row_labels: model.class_names().to_vec(),
            column_labels,
            cells,
            cell_size: (cell_width, cell_height),
            cell_text: None,
            color_bar: ColorBar {
                colormap: DIVERGING,
                range: (-max_abs, max_abs),
                label: "weight",
            },
        };
        WeightHeatMap { heat_map }
    }

    /// The top-left pixel of the cell of `class` and `feature`.
    pub fn cell_origin(&self, class: usize, feature: usize) -> (u32, u32) {
        self.heat_map.cell_origin(class, feature)
    }
}

impl Picture for WeightHeatMap {
    fn size(&self) -> (u32, u32) {
        self.heat_map.size()
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        self.heat_map.draw(area)
    }
}
