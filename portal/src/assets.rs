//! The committed static assets (Det Fælles Designsystem's CSS, fonts and icons), embedded at
//! build time (`build.rs`) and served with a long cache lifetime.

use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};

include!(concat!(env!("OUT_DIR"), "/static_files.rs"));

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or_default() {
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "woff2" => "font/woff2",
        "png" => "image/png",
        "js" => "text/javascript; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

pub async fn serve(Path(path): Path<String>) -> Response {
    match FILES.iter().find(|(p, _)| *p == path) {
        Some((p, bytes)) => {
            ([(header::CONTENT_TYPE, content_type(p)), (header::CACHE_CONTROL, "public, max-age=86400")], *bytes)
                .into_response()
        }
        None => (StatusCode::NOT_FOUND, "findes ikke").into_response(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_design_system_is_embedded() {
        let css = super::FILES.iter().find(|(p, _)| *p == "dkfds/css/dkfds-virkdk.min.css");
        assert!(css.is_some_and(|(_, b)| b.len() > 100_000));
        assert!(super::FILES.iter().any(|(p, _)| p.ends_with("IBMPlexSans-Regular.woff2")));
    }
}
