//! The one id rule of every service: 1 to [`MAX_LEN`] characters, none of
//! them control or zero-width characters, no surrounding spaces. An id one
//! service accepts is never refused by the next one downstream, and a
//! reference built from ids ([`reference`]) is itself an id.
use sha2::{Digest, Sha256};

use crate::error::Violations;

/// Longest id, in characters.
pub const MAX_LEN: usize = 128;

/// Why an id is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Empty.
    #[error("required")]
    Empty,
    /// Too long, or with a character that does not print.
    #[error("at most 128 printable characters")]
    Unprintable,
    /// Leading or trailing white space.
    #[error("no leading or trailing spaces")]
    Spaces,
}

/// Characters that print nothing yet make two ids that look alike differ.
fn invisible(c: char) -> bool {
    c.is_control() || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2060}' | '\u{feff}')
}

/// Checks `value` against the id rule.
pub fn check(value: &str) -> Result<(), IdError> {
    if value.is_empty() {
        Err(IdError::Empty)
    } else if value.chars().count() > MAX_LEN || value.chars().any(invisible) {
        Err(IdError::Unprintable)
    } else if value.trim() != value {
        Err(IdError::Spaces)
    } else {
        Ok(())
    }
}

/// A required id of a request: recorded under `field` when it breaks the rule.
pub fn field(v: &mut Violations, field: &str, value: &str) -> String {
    if let Err(e) = check(value) {
        v.add(field, e.to_string());
    }
    value.to_owned()
}

/// A reference built from ids (`"program:order#2"`), as written when it fits
/// [`MAX_LEN`], else its first characters and a sha256 of the whole: always an
/// id, so a composite of two valid ids never makes a downstream refuse it.
pub fn reference(written: String) -> String {
    if written.chars().count() <= MAX_LEN {
        return written;
    }
    let digest = hex::encode(Sha256::digest(written.as_bytes()));
    let head: String = written.chars().take(MAX_LEN - digest.len() - 3).collect();
    format!("{}..:{digest}", head.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_bounded_printable_and_trimmed() {
        assert_eq!(check("o-1"), Ok(()));
        assert_eq!(check("ann@example.com"), Ok(()));
        assert_eq!(check(&"x".repeat(128)), Ok(()));
        assert_eq!(check(""), Err(IdError::Empty));
        assert_eq!(check(&"x".repeat(129)), Err(IdError::Unprintable));
        assert_eq!(check("a\u{200b}b"), Err(IdError::Unprintable));
        assert_eq!(check("a\nb"), Err(IdError::Unprintable));
        assert_eq!(check(" a"), Err(IdError::Spaces));
    }

    #[test]
    fn references_of_long_ids_are_ids_and_distinct() {
        assert_eq!(reference("p:o-1#0".into()), "p:o-1#0");
        let long = |order: &str| reference(format!("{}:{order}#0", "p".repeat(128)));
        let (a, b) = (long("o-1"), long("o-2"));
        assert_eq!(check(&a), Ok(()));
        assert_ne!(a, b);
        assert_eq!(a, long("o-1"));
    }
}
