//! The layout of a grid of labelled tiles, one per class, left to right and top to bottom in
//! class order.

/// Pixels between tiles and around the grid.
const GAP: u32 = 16;
/// The height of the label row above each tile.
const LABEL_HEIGHT: u32 = 22;

/// Where each of `n_tiles` tiles of `tile_width`×`tile_height` pixels goes: `columns` to a row,
/// each with its label above it, the grid starting `top` pixels from the top of the picture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TileGrid {
    pub n_tiles: usize,
    pub columns: usize,
    pub tile_width: u32,
    pub tile_height: u32,
    pub top: u32,
}

impl TileGrid {
    /// A grid about 2.5 times as wide as tall in tiles (CS231n's 2×5 for 10 classes).
    pub fn new(n_tiles: usize, (tile_width, tile_height): (u32, u32), top: u32) -> TileGrid {
        let columns = ((2.5 * n_tiles as f64).sqrt().ceil() as usize).clamp(1, n_tiles.max(1));
        TileGrid { n_tiles, columns, tile_width, tile_height, top }
    }

    /// The number of rows of tiles.
    pub fn rows(&self) -> usize {
        self.n_tiles.div_ceil(self.columns)
    }

    /// The width of the grid, gaps included.
    pub fn width(&self) -> u32 {
        self.columns as u32 * (self.tile_width + GAP) + GAP
    }

    /// The height of the grid from `top`, labels and gaps included.
    pub fn height(&self) -> u32 {
        self.rows() as u32 * (LABEL_HEIGHT + self.tile_height + GAP)
    }

    /// The top-left pixel of tile `k` (its image, below its label).
    pub fn tile_origin(&self, k: usize) -> (u32, u32) {
        let (row, column) = ((k / self.columns) as u32, (k % self.columns) as u32);
        let x = GAP + column * (self.tile_width + GAP);
        let y = self.top + row * (LABEL_HEIGHT + self.tile_height + GAP) + LABEL_HEIGHT;
        (x, y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_classes_make_two_rows_of_five() {
        let grid = TileGrid::new(10, (128, 128), 50);
        assert_eq!((grid.columns, grid.rows()), (5, 2));
        assert_eq!(grid.tile_origin(0), (16, 50 + 22));
        assert_eq!(grid.tile_origin(4), (16 + 4 * 144, 72));
        assert_eq!(grid.tile_origin(5), (16, 72 + 22 + 128 + 16));
        assert_eq!(grid.width(), 5 * 144 + 16);
    }

    #[test]
    fn few_tiles_fit_in_one_row() {
        for n in 1..=3 {
            assert_eq!(TileGrid::new(n, (8, 8), 0).rows(), 1);
        }
        assert_eq!(TileGrid::new(100, (8, 8), 0).columns, 16);
    }
}
