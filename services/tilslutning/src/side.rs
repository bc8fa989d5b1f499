//! Paging of listings: at most 300 a page (the tilslutning issue), keyset by the listing's key,
//! one extra row fetched to know whether another page follows.

use crate::error::{Result, TilslutningError};

pub const MAX_SIDE: i64 = 300;
const STANDARD_SIDE: i64 = 100;

/// The page a listing asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Side {
    /// Rows on the page; 0 asks for the default.
    pub stoerrelse: i64,
    /// The key to continue after (empty for the first page).
    pub token: String,
}

impl Side {
    /// The page size asked for, checked.
    pub fn stoerrelse(&self, hvad: &str) -> Result<i64> {
        match self.stoerrelse {
            0 => Ok(STANDARD_SIDE),
            n if (1..=MAX_SIDE).contains(&n) => Ok(n),
            _ => Err(TilslutningError::Invalid(format!("en side har 1 til {MAX_SIDE} {hvad}"))),
        }
    }
}

/// Cuts a fetch of `size + 1` rows to the page and gives the next page's token (empty when
/// this was the last).
pub fn klip<T>(rows: &mut Vec<T>, size: i64, key: impl Fn(&T) -> String) -> String {
    if rows.len() as i64 > size {
        rows.truncate(size as usize);
        rows.last().map(key).unwrap_or_default()
    } else {
        String::new()
    }
}
