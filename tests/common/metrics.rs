//! Reading a process's Prometheus metrics.

/// The exposition at `addr`'s `/metrics`, checked to be Prometheus text.
pub async fn scrape(addr: &str) -> String {
    let r = reqwest::get(format!("http://{addr}/metrics")).await.expect("the metrics listener answers");
    assert_eq!(r.status(), 200);
    let ct = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "Prometheus text exposition: {ct}");
    r.text().await.unwrap()
}

/// The sum of the samples of `name` whose labels include every one of `labels` (`k="v"`).
pub fn value(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter(|l| labels.iter().all(|want| l.contains(want)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
