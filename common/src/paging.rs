//! Paging of list RPCs: the size asked (50 by default, at most 500) and the
//! token to continue after; a page fetched with one extra row tells whether
//! there is a next one.
use boomerang_proto::common::v1::PageRequest;

/// Items per page when the caller asks for none.
pub const DEFAULT_PAGE: u32 = 50;
/// Items per page at most.
pub const MAX_PAGE: u32 = 500;

/// Page size (default 50, at most 500) and the token to continue after.
pub fn page(p: Option<&PageRequest>) -> (i64, String) {
    let size = p.map_or(0, |p| p.page_size);
    (
        i64::from(if size == 0 {
            DEFAULT_PAGE
        } else {
            size.min(MAX_PAGE)
        }),
        p.map(|p| p.page_token.clone()).unwrap_or_default(),
    )
}

/// Trims a page fetched with one extra row; the next token, or empty at the end.
pub fn next<T>(rows: &mut Vec<T>, size: i64, token: impl Fn(&T) -> String) -> String {
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    if rows.len() > size {
        rows.truncate(size);
        rows.last().map(token).unwrap_or_default()
    } else {
        String::new()
    }
}
