//! Institution numbers: `G` followed by 5 digits, one series for all three levels.

/// The first number this register issues (real data uses G10433–G29214).
pub const FOERSTE: i64 = 30_000;
/// The last number of the series; running out is an error, never a wrap.
pub const SIDSTE: i64 = 99_999;

pub fn format(n: i64) -> String {
    format!("G{n:05}")
}

/// True when `s` has the shape of an institution number.
pub fn is_valid(s: &str) -> bool {
    s.len() == 6 && s.starts_with('G') && s[1..].bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_checks() {
        assert_eq!(format(30000), "G30000");
        assert!(is_valid("G10433"));
        assert!(!is_valid("G1043"));
        assert!(!is_valid("X10433"));
        assert!(!is_valid("G1043A"));
    }
}
