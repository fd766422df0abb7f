//! A real Chromium driven through WebDriver (Debian's `chromium` and
//! `chromium-driver`): the console's browser tests and `screenshots`.

use anyhow::{bail, Context as _};
use fantoccini::{Client, ClientBuilder, Locator};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// chromedriver on a free loopback port; killed when dropped.
pub struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    pub fn start() -> anyhow::Result<Driver> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("chromedriver is not installed (apt-get install chromium chromium-driver)")?;
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(20) {
                bail!("chromedriver did not listen on port {port} within 20 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(Driver { child, port })
    }

    /// A headless Chromium with an office screen's size (1366×768).
    pub async fn browser(&self) -> anyhow::Result<Client> {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--window-size=1366,768", "--lang=zh-CN", "--disable-dev-shm-usage"]
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .context("a Chromium session through chromedriver")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sign in on the console at `origin` (`http://127.0.0.1:PORT`).
pub async fn sign_in(
    b: &Client,
    origin: &str,
    username: &str,
    password: &str,
) -> anyhow::Result<()> {
    b.goto(&format!("{origin}/console/login")).await?;
    b.find(Locator::Id("username"))
        .await?
        .send_keys(username)
        .await?;
    b.find(Locator::Id("password"))
        .await?
        .send_keys(password)
        .await?;
    click_and_wait(b, Locator::Id("sign-in")).await
}

/// Click something that loads a new page (a form's submit button, a link)
/// and wait until the new page has replaced the old one: WebDriver's click
/// returns before a form's answer arrives.
pub async fn click_and_wait(b: &Client, target: Locator<'_>) -> anyhow::Result<()> {
    let old_page = b.find(Locator::Css("html")).await?;
    b.find(target).await?.click().await?;
    let started = Instant::now();
    // The old page's root goes stale once the new page is there.
    while old_page.tag_name().await.is_ok() {
        if started.elapsed() > Duration::from_secs(15) {
            bail!("the page did not change within 15 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    while b.execute("return document.readyState", vec![]).await? != "complete" {
        if started.elapsed() > Duration::from_secs(15) {
            bail!("the new page did not finish loading within 15 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// The visible text of the element with `id`.
pub async fn text_of(b: &Client, id: &str) -> anyhow::Result<String> {
    Ok(b.find(Locator::Id(id)).await?.text().await?)
}

/// Save a PNG of the current page.
pub async fn screenshot(b: &Client, path: &std::path::Path) -> anyhow::Result<()> {
    let png = b.screenshot().await?;
    std::fs::write(path, png).with_context(|| path.display().to_string())
}
