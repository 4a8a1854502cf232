//! From a [`Picture`] to the bytes of a PNG or SVG file: the backend choice, the embedded font,
//! PNG encoding and the text helpers every picture shares.

use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::text::EvenTextBitMap;
use crate::{Error, Result};

/// The family name the embedded font is registered under; every text style uses it.
pub(crate) const FONT: &str = "sans-serif";

/// DejaVu Sans 2.37 (Bitstream Vera and Arev licences: `assets/fonts/LICENSE`), compiled in so
/// that rendering needs no system font.
const FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// The largest side, in pixels, of a picture this module draws (a PNG of 16,384² pixels is
/// already 800 MB of raw RGB).
const MAX_SIDE: u32 = 16_384;

/// What goes wrong drawing on backend `DB`.
pub type DrawError<DB> = DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>;

/// What drawing on backend `DB` returns.
pub type DrawResult<DB> = std::result::Result<(), DrawError<DB>>;

/// The file formats a picture renders to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A raster image (8-bit RGB), for viewing and for the report page.
    Png,
    /// A vector image; its text is set by the viewer in a sans-serif font.
    Svg,
}

impl Format {
    /// The format a file name asks for, by its extension (`.png` or `.svg`, any case).
    ///
    /// # Errors
    /// [`Error::File`] naming `path` for any other extension.
    pub fn of_path(path: &Path) -> Result<Format> {
        let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("png") => Ok(Format::Png),
            Some("svg") => Ok(Format::Svg),
            _ => Err(Error::file(
                path,
                "unknown picture format: the file name must end in .png or .svg",
            )),
        }
    }
}

/// A picture of a fixed size that can draw itself on any plotters backend; [`Picture::render`]
/// and [`Picture::save`] turn it into a PNG or SVG file.
pub trait Picture {
    /// Width and height, in pixels.
    fn size(&self) -> (u32, u32);

    /// Draws the picture on `area`, which is [`Picture::size`] large and already white.
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB>;

    /// The bytes of the file `path` names, PNG or SVG by its extension; nothing is written.
    ///
    /// # Errors
    /// An extension other than `.png` or `.svg`, a picture larger than 16,384 pixels a side,
    /// and a failure to draw; every error names `path`.
    fn render(&self, path: &Path) -> Result<Vec<u8>> {
        let format = Format::of_path(path)?;
        let (width, height) = self.size();
        if width.max(height) > MAX_SIDE {
            return Err(Error::file(
                path,
                format!(
                    "the picture would be {width}×{height} pixels, more than the {MAX_SIDE} \
                     a side that softmax draws"
                ),
            ));
        }
        let rendered = match format {
            Format::Png => render_png(self),
            Format::Svg => render_svg(self),
        };
        rendered.map_err(|message| Error::file(path, format!("cannot draw the picture: {message}")))
    }

    /// Writes the picture to `path` (PNG or SVG by its extension), atomically.
    ///
    /// # Errors
    /// Those of [`Picture::render`], and any I/O error; an existing file is then left as it was.
    fn save(&self, path: &Path) -> Result<()> {
        let bytes = self.render(path)?;
        crate::atomic::write_atomically(path, |out| out.write_all(&bytes))
    }
}

/// Draws `picture` into an RGB buffer (text set by [`EvenTextBitMap`]) and encodes it as PNG.
fn render_png<P: Picture + ?Sized>(picture: &P) -> std::result::Result<Vec<u8>, String> {
    register_font()?;
    let font = ab_glyph::FontRef::try_from_slice(FONT_BYTES).map_err(|e| e.to_string())?;
    let (width, height) = picture.size();
    let mut rgb = vec![0u8; width as usize * height as usize * 3];
    {
        let area = EvenTextBitMap::new(&mut rgb, (width, height), font).into_drawing_area();
        area.fill(&WHITE).map_err(|e| e.to_string())?;
        picture.draw(&area).map_err(|e| e.to_string())?;
        area.present().map_err(|e| e.to_string())?;
    }
    encode_png(width, height, &rgb)
}

/// Draws `picture` as SVG text.
fn render_svg<P: Picture + ?Sized>(picture: &P) -> std::result::Result<Vec<u8>, String> {
    register_font()?;
    let mut svg = String::new();
    {
        let area = SVGBackend::with_string(&mut svg, picture.size()).into_drawing_area();
        area.fill(&WHITE).map_err(|e| e.to_string())?;
        picture.draw(&area).map_err(|e| e.to_string())?;
        area.present().map_err(|e| e.to_string())?;
    }
    Ok(svg.into_bytes())
}

/// A PNG file of 8-bit RGB pixels (`rgb`: `width`·`height`·3 bytes, row by row).
pub(crate) fn encode_png(
    width: u32,
    height: u32,
    rgb: &[u8],
) -> std::result::Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(rgb).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(bytes)
}

/// Registers the embedded font under [`FONT`], once; text drawn before this renders nothing.
fn register_font() -> std::result::Result<(), String> {
    static REGISTERED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES)
                .map_err(|_| "the embedded font DejaVu Sans cannot be read".to_string())
        })
        .clone()
}

/// Pixels between the parts of a picture and around its edges.
pub(crate) const MARGIN: u32 = 16;

/// The height of a picture's [`Header`].
pub(crate) const HEADER_HEIGHT: u32 = 66;

/// A picture's title and, below it in grey, one line saying how to read it.
pub(crate) struct Header {
    pub title: String,
    pub subtitle: String,
}

impl Header {
    /// The width the two lines need, margins included.
    pub fn width(&self) -> u32 {
        text_width(&self.title, 20).max(text_width(&self.subtitle, 14)) + 2 * MARGIN
    }

    /// Draws the two lines at the top left of `area`.
    pub fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let left = MARGIN as i32;
        area.draw_text(&self.title, &text(20), (left, 14))?;
        area.draw_text(&self.subtitle, &text(14).color(&RGBColor(90, 90, 90)), (left, 42))
    }
}

/// Text in the embedded font, `size` pixels high, black, anchored at its top left.
pub(crate) fn text(size: u32) -> TextStyle<'static> {
    TextStyle::from((FONT, size).into_font()).color(&BLACK)
}

/// The width in pixels of `label` in [`text`] of `size` (an estimate if the font is missing).
pub(crate) fn text_width(label: &str, size: u32) -> u32 {
    let measured =
        register_font().ok().and_then(|()| (FONT, size).into_font().box_size(label).ok());
    match measured {
        Some((width, _)) => width,
        None => label.chars().count() as u32 * size * 3 / 5,
    }
}

/// `label` cut to at most `width` pixels in [`text`] of `size`, with "…" where it was cut.
///
/// The cut is found by bisection over the number of characters kept, so that a long label (a
/// CSV header's name of a million characters) takes a few measurements, not one per character.
pub(crate) fn fit_text(label: &str, size: u32, width: u32) -> String {
    if text_width(label, size) <= width {
        return label.to_string();
    }
    let chars: Vec<char> = label.chars().collect();
    let cut = |kept: usize| chars[..kept].iter().collect::<String>() + "…";
    // The longest cut that fits keeps at least `fits` and fewer than `too_long` characters.
    let (mut fits, mut too_long) = (0, chars.len());
    while too_long - fits > 1 {
        let middle = fits + (too_long - fits) / 2;
        match text_width(&cut(middle), size) <= width {
            true => fits = middle,
            false => too_long = middle,
        }
    }
    match fits > 0 || text_width(&cut(0), size) <= width {
        true => cut(fits),
        false => String::new(),
    }
}

/// A number for an axis or a legend: 4 significant digits, in scientific notation outside
/// [0.001, 10,000).
pub(crate) fn format_number(value: f64) -> String {
    let magnitude = value.abs();
    if value == 0.0 {
        "0".to_string()
    } else if !(1e-3..1e4).contains(&magnitude) {
        format!("{value:.2e}")
    } else {
        let decimals = (3 - magnitude.log10().floor() as i32).clamp(0, 6) as usize;
        let text = format!("{value:.decimals$}");
        match text.contains('.') {
            true => text.trim_end_matches('0').trim_end_matches('.').to_string(),
            false => text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_font_registers_and_measures_text() {
        register_font().unwrap();
        let narrow = text_width("ii", 20);
        let wide = text_width("WW", 20);
        assert!(narrow > 0 && wide > 2 * narrow, "ii: {narrow}, WW: {wide}");
    }

    #[test]
    fn formats_come_from_the_extension() {
        assert_eq!(Format::of_path(Path::new("a/b.PNG")).unwrap(), Format::Png);
        assert_eq!(Format::of_path(Path::new("b.svg")).unwrap(), Format::Svg);
        let err = Format::of_path(Path::new("out/b.jpg")).unwrap_err().to_string();
        assert_eq!(
            err,
            "out/b.jpg: unknown picture format: the file name must end in .png or .svg"
        );
        assert!(Format::of_path(Path::new("noextension")).is_err());
    }

    #[test]
    fn numbers_read_well() {
        let cases = [
            (0.0, "0"),
            (0.5, "0.5"),
            (0.38912, "0.3891"),
            (2.25, "2.25"),
            (781.123, "781.1"),
            (1e-7, "1.00e-7"),
            (25000.0, "2.50e4"),
            (-1.5, "-1.5"),
        ];
        for (value, expected) in cases {
            assert_eq!(format_number(value), expected, "{value}");
        }
    }

    #[test]
    fn long_labels_are_cut_to_fit() {
        let cut = fit_text("a very long class name indeed", 14, 60);
        assert!(cut.ends_with('…') && text_width(&cut, 14) <= 60, "{cut}");
        assert_eq!(fit_text("cat", 14, 60), "cat");
        // The longest cut that fits: one more character does not.
        let kept = cut.chars().count() - 1;
        let longer: String = "a very long class name indeed".chars().take(kept + 1).collect();
        assert!(text_width(&(longer + "…"), 14) > 60, "{cut}");
        assert_eq!(fit_text("abc", 14, 0), "");
    }

    #[test]
    fn a_label_of_200_000_characters_is_cut_in_a_few_measurements() {
        let label = "w".repeat(200_000);
        let start = std::time::Instant::now();
        let cut = fit_text(&label, 13, 140);
        assert!(cut.ends_with('…') && text_width(&cut, 13) <= 140, "{cut}");
        assert!(start.elapsed().as_secs() < 10, "{:?}", start.elapsed());
    }
}
