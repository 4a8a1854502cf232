//! A heat map: a matrix of coloured cells, its rows labelled on the left, its columns below,
//! optionally a number in each cell, and a colour bar. The weight heat map and the confusion
//! matrix are both one.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::canvas::{DrawResult, HEADER_HEIGHT, Header, MARGIN, fit_text, text, text_width};
use super::colormap::{ColorBar, text_color_on};
use super::image::RgbImage;

/// The size of the row and column labels.
const LABEL_SIZE: u32 = 13;
/// The longest row label, in pixels; longer ones are cut.
const MAX_ROW_LABEL: u32 = 180;
/// The longest (vertical) column label, in pixels; longer ones are cut.
const MAX_COLUMN_LABEL: u32 = 140;
/// The room for the axis titles ("true class", "predicted class").
const AXIS_TITLE: u32 = 24;
/// The width of the colour bar.
const COLOR_BAR_WIDTH: u32 = 300;

/// A matrix of coloured cells with labels, as described in the module doc.
pub(crate) struct HeatMap {
    pub header: Header,
    /// Written vertically left of the row labels.
    pub row_title: &'static str,
    /// Written under the column labels.
    pub column_title: &'static str,
    pub row_labels: Vec<String>,
    pub column_labels: Vec<String>,
    /// One pixel per cell: rows × columns.
    pub cells: RgbImage,
    /// The width and height of a cell, in pixels.
    pub cell_size: (u32, u32),
    /// Text for each cell, row by row, written in the cells when it fits (the counts of a
    /// confusion matrix).
    pub cell_text: Option<Vec<String>>,
    pub color_bar: ColorBar,
}

impl HeatMap {
    /// The top-left pixel of cell (`row`, `column`).
    pub fn cell_origin(&self, row: usize, column: usize) -> (u32, u32) {
        self.cell_after(self.left(), row, column)
    }

    /// The top-left pixel of cell (`row`, `column`) of a matrix whose left edge is `left`
    /// (measuring the labels for [`HeatMap::left`] once per picture, not once per cell).
    fn cell_after(&self, left: u32, row: usize, column: usize) -> (u32, u32) {
        let (cell_width, cell_height) = self.cell_size;
        (left + column as u32 * cell_width, HEADER_HEIGHT + row as u32 * cell_height)
    }

    /// The picture's width and height.
    pub fn size(&self) -> (u32, u32) {
        let (matrix_width, matrix_height) = self.matrix_size();
        let color_bar = 2 * MARGIN + self.color_bar.width_with_label(COLOR_BAR_WIDTH);
        let width = (self.left() + matrix_width + MARGIN).max(self.header.width()).max(color_bar);
        let height = HEADER_HEIGHT
            + matrix_height
            + self.column_label_height()
            + AXIS_TITLE
            + ColorBar::HEIGHT
            + MARGIN;
        (width, height)
    }

    /// Draws the header, the cells, their text, the labels and the colour bar.
    pub fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        self.header.draw(area)?;
        let left = self.left();
        self.cells.draw(area, (left as i32, HEADER_HEIGHT as i32), self.cell_size)?;
        self.draw_cell_text(area, left)?;
        self.draw_row_labels(area, left)?;
        self.draw_column_labels(area, left)?;
        let (left, top) = (left as i32, HEADER_HEIGHT as i32);

        let (matrix_width, matrix_height) = self.matrix_size();
        let (matrix_width, matrix_height) = (matrix_width as i32, matrix_height as i32);
        let row_title =
            text(14).transform(FontTransform::Rotate270).pos(Pos::new(HPos::Center, VPos::Center));
        let row_title_x = (MARGIN + AXIS_TITLE / 2) as i32 - 4;
        area.draw_text(self.row_title, &row_title, (row_title_x, top + matrix_height / 2))?;
        let below_labels = top + matrix_height + self.column_label_height() as i32;
        let column_title = text(14).pos(Pos::new(HPos::Center, VPos::Top));
        area.draw_text(
            self.column_title,
            &column_title,
            (left + matrix_width / 2, below_labels + 4),
        )?;
        let bar_top = below_labels + AXIS_TITLE as i32;
        self.color_bar.draw(area, (MARGIN as i32, bar_top), COLOR_BAR_WIDTH)
    }

    /// The matrix's width and height in pixels.
    fn matrix_size(&self) -> (u32, u32) {
        let (cell_width, cell_height) = self.cell_size;
        (self.cells.width as u32 * cell_width, self.cells.height as u32 * cell_height)
    }

    /// The left edge of the matrix: after the row title and the longest row label.
    fn left(&self) -> u32 {
        let longest = self.row_labels.iter().map(|l| text_width(l, LABEL_SIZE)).max();
        MARGIN + AXIS_TITLE + longest.unwrap_or(0).min(MAX_ROW_LABEL) + 8
    }

    /// Whether the column labels are written vertically: when one is wider than its cell.
    fn columns_vertical(&self) -> bool {
        let room = self.cell_size.0.saturating_sub(4);
        self.column_labels.iter().any(|label| text_width(label, LABEL_SIZE) > room)
    }

    /// The height of the column labels' row.
    fn column_label_height(&self) -> u32 {
        match self.columns_vertical() {
            true => {
                let longest = self.column_labels.iter().map(|l| text_width(l, LABEL_SIZE)).max();
                longest.unwrap_or(0).min(MAX_COLUMN_LABEL) + 8
            }
            false => LABEL_SIZE + 10,
        }
    }

    fn draw_row_labels<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        left: u32,
    ) -> DrawResult<DB> {
        let cell_height = self.cell_size.1;
        let style = text(LABEL_SIZE).pos(Pos::new(HPos::Right, VPos::Center));
        for row in (0..self.row_labels.len()).step_by(label_step(cell_height)) {
            let label = fit_text(&self.row_labels[row], LABEL_SIZE, MAX_ROW_LABEL);
            let (x, y) = self.cell_after(left, row, 0);
            area.draw_text(&label, &style, (x as i32 - 6, (y + cell_height / 2) as i32))?;
        }
        Ok(())
    }

    fn draw_column_labels<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        left: u32,
    ) -> DrawResult<DB> {
        let cell_width = self.cell_size.0;
        let below = HEADER_HEIGHT as i32 + self.matrix_size().1 as i32 + 4;
        let (style, step) = match self.columns_vertical() {
            true => (
                text(LABEL_SIZE)
                    .transform(FontTransform::Rotate270)
                    .pos(Pos::new(HPos::Right, VPos::Center)),
                label_step(cell_width),
            ),
            false => (text(LABEL_SIZE).pos(Pos::new(HPos::Center, VPos::Top)), 1),
        };
        for column in (0..self.column_labels.len()).step_by(step) {
            let label = fit_text(&self.column_labels[column], LABEL_SIZE, MAX_COLUMN_LABEL);
            let x = self.cell_after(left, 0, column).0 + cell_width / 2;
            area.draw_text(&label, &style, (x as i32, below))?;
        }
        Ok(())
    }

    /// Writes each cell's text in its middle, white on dark cells, if every text fits.
    fn draw_cell_text<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        left: u32,
    ) -> DrawResult<DB> {
        let Some(cell_text) = &self.cell_text else { return Ok(()) };
        let (cell_width, cell_height) = self.cell_size;
        let size = (cell_height * 2 / 5).clamp(8, 15);
        let fits =
            cell_height >= 14 && cell_text.iter().all(|t| text_width(t, size) + 4 <= cell_width);
        if !fits {
            return Ok(());
        }
        for (index, label) in cell_text.iter().enumerate() {
            let (row, column) = (index / self.cells.width, index % self.cells.width);
            let color = text_color_on(self.cells.pixel(row, column));
            let style = text(size).color(color).pos(Pos::new(HPos::Center, VPos::Center));
            let (x, y) = self.cell_after(left, row, column);
            area.draw_text(
                label,
                &style,
                ((x + cell_width / 2) as i32, (y + cell_height / 2) as i32),
            )?;
        }
        Ok(())
    }
}

/// Label every k-th row (or column) of cells `cell` pixels high (wide), so labels do not
/// overlap.
fn label_step(cell: u32) -> usize {
    (LABEL_SIZE + 2).div_ceil(cell.max(1)) as usize
}
