//! A real browser for the people's pages: Debian's headless Chromium driven through ChromeDriver
//! (WebDriver, via `fantoccini`), with axe-core injected for the accessibility check and
//! screenshots kept under `target/test-artifacts/` for a person to look at.

use std::path::PathBuf;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};

use super::{Proc, TempDir, free_port, wait_until};

fn setting(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!(
            "{var} is not set: run the suite with scripts/test.sh, which installs Chromium, ChromeDriver and axe-core"
        )
    })
}

pub struct Browser {
    pub client: Client,
    _driver: Proc,
    _profile: TempDir,
}

/// Where screenshots of the pages are kept.
pub fn artefacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-artifacts/portal");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Browser {
    /// A fresh headless Chromium (its own profile), accepting the test gateway's self-signed
    /// certificate.
    pub async fn start() -> Browser {
        let profile = TempDir::new();
        let port = free_port();
        let driver = Proc::spawn_program(
            &setting("DTR_TEST_CHROMEDRIVER"),
            "chromedriver",
            &[&format!("--port={port}")],
            &[],
            profile.path(),
        );
        let url = format!("http://127.0.0.1:{port}");
        wait_until("chromedriver to listen", Duration::from_secs(30), || {
            let addr = format!("127.0.0.1:{port}");
            async move { tokio::net::TcpStream::connect(addr).await.is_ok() }
        })
        .await;
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--window-size=1280,1000".into(),
            format!("--user-data-dir={}", profile.path().join("chromium").display()),
        ];
        let caps = serde_json::json!({
            "acceptInsecureCerts": true,
            "goog:chromeOptions": { "binary": setting("DTR_TEST_CHROMIUM"), "args": args },
        });
        let serde_json::Value::Object(caps) = caps else { unreachable!() };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector).capabilities(caps).connect(&url).await.expect("a Chromium session");
        Browser { client, _driver: driver, _profile: profile }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// Types `text` into the field whose `<label>` says `label` (so the label must name it).
    pub async fn fill(&self, label: &str, text: &str) {
        let xpath = format!("//label[normalize-space()='{label}']");
        let for_id = self
            .client
            .find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("no label {label:?}: {e}"))
            .attr("for")
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("label {label:?} names no field"));
        let field = self.client.find(Locator::Id(&for_id)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// The field a `<label>` names.
    async fn labelled(&self, label: &str) -> fantoccini::elements::Element {
        let xpath = format!("//label[normalize-space()='{label}']");
        let label_el =
            self.client.find(Locator::XPath(&xpath)).await.unwrap_or_else(|e| panic!("no label {label:?}: {e}"));
        let id = label_el.attr("for").await.unwrap().unwrap_or_else(|| panic!("label {label:?} names no field"));
        self.client.find(Locator::Id(&id)).await.unwrap()
    }

    /// Picks the option with `value` in the list labelled `label`.
    pub async fn select(&self, label: &str, value: &str) {
        self.labelled(label).await.select_by_value(value).await.unwrap_or_else(|e| panic!("{label} = {value}: {e}"));
    }

    /// Ticks the checkbox whose label starts with `label`.
    pub async fn check(&self, label: &str) {
        let xpath = format!("//label[starts-with(normalize-space(), '{label}')]");
        let id = self.client.find(Locator::XPath(&xpath)).await.unwrap().attr("for").await.unwrap().unwrap();
        self.client.find(Locator::Id(&id)).await.unwrap().click().await.unwrap();
    }

    /// Types into the field `name` of the table row that shows `row`.
    pub async fn fill_in_row(&self, row: &str, name: &str, text: &str) {
        let xpath = format!("//tr[td[normalize-space()='{row}']]//input[@name='{name}']");
        self.client
            .find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("no {name} in row {row}: {e}"))
            .send_keys(text)
            .await
            .unwrap();
    }

    /// Clicks the button `text` in the table row that shows `row`.
    pub async fn click_in_row(&self, row: &str, text: &str) {
        let xpath = format!("//tr[td[normalize-space()='{row}']]//button[normalize-space()='{text}']");
        self.client
            .find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("no {text} in row {row}: {e}"))
            .click()
            .await
            .unwrap();
    }

    /// Whether a table row shows `text` in one of its cells.
    pub async fn has_row(&self, text: &str) -> bool {
        let xpath = format!("//tr[td[normalize-space()='{text}']]");
        self.client.find(Locator::XPath(&xpath)).await.is_ok()
    }

    /// Waits until a table row shows `text` (a form answered with a new page).
    pub async fn shows_row(&self, text: &str) {
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if self.has_row(text).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let shot = self.screenshot("failed-row").await;
        panic!("no table row shows {text:?} ({}):\n{}", shot.display(), self.text().await);
    }

    /// Follows the link that says `text`.
    pub async fn follow(&self, text: &str) {
        self.client
            .find(Locator::LinkText(text))
            .await
            .unwrap_or_else(|e| panic!("no link {text:?}: {e}"))
            .click()
            .await
            .unwrap();
    }

    /// The text of the element with `id`.
    pub async fn text_of(&self, id: &str) -> String {
        self.client.find(Locator::Id(id)).await.unwrap().text().await.unwrap()
    }

    /// Logs in through the form and waits for the front page.
    pub async fn log_in(&self, portal: &str, user: &str, password: &str) {
        self.goto(&format!("{portal}/log-paa")).await;
        self.fill("Brugernavn", user).await;
        self.fill("Adgangskode", password).await;
        self.click_button("Log på").await;
        self.arrives_at("/").await;
    }

    pub async fn log_out(&self) {
        self.click_button("Log ud").await;
        self.arrives_at("/log-paa").await;
    }

    /// Clicks the button that says `text`.
    pub async fn click_button(&self, text: &str) {
        let xpath = format!("//button[normalize-space()='{text}']");
        self.client
            .find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("no button {text:?}: {e}"))
            .click()
            .await
            .unwrap();
    }

    /// The page's visible text.
    pub async fn text(&self) -> String {
        self.client.find(Locator::Css("body")).await.unwrap().text().await.unwrap()
    }

    pub async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_owned()
    }

    /// Waits until the page shows `text` (a form answered on the same address).
    pub async fn shows(&self, text: &str) {
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if let Ok(body) = self.client.find(Locator::Css("body")).await
                && body.text().await.is_ok_and(|t| t.contains(text))
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let shot = self.screenshot("failed-text").await;
        panic!("the page at {} ({}) does not show {text:?}:\n{}", self.path().await, shot.display(), self.text().await);
    }

    /// Waits until a navigation (a submitted form) has arrived at `path`.
    pub async fn arrives_at(&self, path: &str) {
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if self.client.current_url().await.is_ok_and(|u| u.path() == path)
                && self.client.execute("return document.readyState", vec![]).await.is_ok_and(|s| s == "complete")
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let shot = self.screenshot("failed-navigation").await;
        panic!(
            "the browser did not arrive at {path}; it is at {} ({}), showing:\n{}",
            self.path().await,
            shot.display(),
            self.text().await
        );
    }

    /// Shows the page at a phone's width (390 CSS pixels): nothing may stick out sideways, so
    /// nothing needs scrolling the whole page to the side (wide tables scroll in their own box).
    /// Keeps a screenshot as `name`-mobil.png, then returns to the desktop width.
    pub async fn fits_phone(&self, name: &str) {
        self.client.set_window_size(390, 844).await.unwrap();
        let overflow = self
            .client
            .execute("return document.documentElement.scrollWidth - document.documentElement.clientWidth;", vec![])
            .await
            .unwrap();
        self.screenshot(&format!("{name}-mobil")).await;
        self.client.set_window_size(1280, 1000).await.unwrap();
        assert!(overflow.as_i64().unwrap_or(0) <= 0, "{name} is {overflow} px wider than a phone's screen");
    }

    /// Keeps a screenshot of the page as `name`.png.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.unwrap();
        let path = artefacts().join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Runs axe-core (WCAG 2.0/2.1 A and AA rules) on the page; fails listing every violation.
    pub async fn assert_accessible(&self, page: &str) {
        let axe = std::fs::read_to_string(setting("DTR_TEST_AXE")).expect("axe.min.js");
        let script = format!(
            "{axe}\nconst done = arguments[arguments.length - 1];\n\
             axe.run(document, {{ runOnly: {{ type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] }} }})\n\
               .then(r => done(r.violations.map(v => v.id + ': ' + v.help + ' (' + v.nodes.map(n => n.target.join(' ')).join(', ') + ')')))\n\
               .catch(e => done(['axe failed: ' + e]));"
        );
        let result = self.client.execute_async(&script, vec![]).await.expect("axe-core runs");
        let violations: Vec<String> = serde_json::from_value(result).unwrap();
        assert!(violations.is_empty(), "{page}: accessibility violations:\n  {}", violations.join("\n  "));
    }
}
