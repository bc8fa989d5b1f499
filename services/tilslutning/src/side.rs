//! Paging of listings: at most 300 a page (the tilslutning issue), keyset by the listing's key,
//! one extra row fetched to know whether another page follows.

use tonic::Status;

use dtr_proto::tilslutning::Side;

pub const MAX_SIDE: i64 = 300;
const STANDARD_SIDE: i64 = 100;

/// The page size asked for (0 = the default), checked.
pub fn stoerrelse(side: &Option<Side>, hvad: &str) -> Result<i64, Status> {
    match side.as_ref().map_or(0, |s| i64::from(s.stoerrelse)) {
        0 => Ok(STANDARD_SIDE),
        n if (1..=MAX_SIDE).contains(&n) => Ok(n),
        _ => Err(Status::invalid_argument(format!("en side har 1 til {MAX_SIDE} {hvad}"))),
    }
}

/// The key to continue after (empty for the first page).
pub fn token(side: &Option<Side>) -> String {
    side.as_ref().map(|s| s.token.clone()).unwrap_or_default()
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
