//! `softmax demo`: a local web server with three pages about the linear classifier, and the
//! JSON API they call. Every number the pages show comes from the library through that API;
//! the pages' scripts only draw and handle input.
//!
//! - `/classifier`: CS231n's 2-D linear classifier, with gradient steps (`/api/loss`,
//!   `/api/step`, `/api/preset`);
//! - `/digit`: draw a digit and see the model's probabilities (`/api/model`, `/api/predict`);
//! - `/explain`: the worked example of `softmax explain`, editable (`/api/explain`,
//!   `/api/explain/example`).
//!
//! The pages, scripts and styles (`assets/demo/`) are compiled into the binary. Bodies are
//! limited to [`MAX_BODY`] bytes (413 beyond); a request the API refuses gets a 400 with
//! `{"error": "..."}`, and the server keeps serving. The README documents the API.

mod classifier;
mod digit;
mod explain;
mod request;

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use serde_json::{Value, json};

use digit::DigitModel;
use request::ApiError;

/// The largest request body accepted (256 KiB): a 140×140 drawing is about 60 KB of JSON.
pub const MAX_BODY: usize = 256 * 1024;

/// Start a local web server with interactive pages: a 2-D classifier trained step by step,
/// a digit to draw, the gradient worked step by step.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Address to listen on (loopback by default: other machines cannot reach it).
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to listen on; 0 picks a free one. The first line printed is the address.
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// The model of the draw-a-digit page: a safetensors file from `softmax train --model`
    /// (default: a model trained at start-up on the embedded digits).
    #[arg(long)]
    model: Option<PathBuf>,
}

/// What the handlers share.
struct Demo {
    digits: DigitModel,
}

pub fn run(args: Args) -> Result<()> {
    let digits = DigitModel::load_or_train(args.model.as_deref())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .context("cannot start the server's runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind((args.host, args.port))
            .await
            .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
        let address = listener.local_addr()?;
        let mut stdout = std::io::stdout();
        writeln!(stdout, "listening on http://{address}")?;
        writeln!(stdout, "model: {}", digits.description())?;
        stdout.flush()?;
        if !args.host.is_loopback() {
            eprintln!(
                "warning: {} is not a loopback address: other machines can reach the demo",
                args.host
            );
        }
        axum::serve(listener, router(Demo { digits })).await.context("serving")
    })
}

/// The pages, their assets and the API.
fn router(demo: Demo) -> Router {
    let mut router = Router::new()
        .route(
            "/api/model",
            get(|State(demo): State<Arc<Demo>>| async move { answer(Ok(demo.digits.info())) }),
        )
        .route("/api/loss", api(|_, body| classifier::loss(body)))
        .route("/api/step", api(|_, body| classifier::step(body)))
        .route("/api/preset", api(|_, body| classifier::preset(body)))
        .route("/api/predict", api(|demo, body| demo.digits.predict(body)))
        .route("/api/explain", api(|_, body| explain::explain(body)))
        .route("/api/explain/example", api(|_, body| explain::example(body)));
    for page in PAGES {
        router = router.route(page.path, asset(HTML, render(page)));
    }
    for &(path, content_type, content) in ASSETS {
        router = router.route(path, asset(content_type, content.to_string()));
    }
    router
        .fallback(|uri: Uri| async move {
            answer(Err(ApiError {
                status: StatusCode::NOT_FOUND,
                message: format!("no such page: {uri}"),
            }))
        })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(Arc::new(demo))
}

/// What an endpoint computes from the shared state and the request body.
type Endpoint = fn(&Demo, &[u8]) -> Result<Value, ApiError>;

/// A POST route that answers `endpoint`'s JSON, or its error as `{"error": ...}`.
fn api(endpoint: Endpoint) -> MethodRouter<Arc<Demo>> {
    post(move |State(demo): State<Arc<Demo>>, body: Result<Bytes, BytesRejection>| async move {
        answer(body.map_err(body_error).and_then(|body| endpoint(&demo, &body)))
    })
}

/// A body that could not be read: too large (413) or cut off.
fn body_error(rejection: BytesRejection) -> ApiError {
    let message = match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => {
            format!("the request body is larger than {MAX_BODY} bytes")
        }
        _ => format!("cannot read the request body: {}", rejection.body_text()),
    };
    ApiError { status: rejection.status(), message }
}

/// The JSON answer of a request.
fn answer(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(value) => axum::Json(value).into_response(),
        Err(err) => (err.status, axum::Json(json!({ "error": err.message }))).into_response(),
    }
}

/// A GET route serving `content`; scripts and styles may come only from this server.
fn asset(content_type: &'static str, content: String) -> MethodRouter<Arc<Demo>> {
    get(move || async move {
        let headers = [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, "default-src 'self'"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ];
        (headers, content)
    })
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// A page: its path, its title (and name in the navigation), its script, its `<main>`.
struct Page {
    path: &'static str,
    title: &'static str,
    script: Option<&'static str>,
    main: &'static str,
}

/// The pages, each laid into [`LAYOUT`]; every one after the first is in the navigation.
const PAGES: &[Page] = &[
    Page {
        path: "/",
        title: "softmax demo",
        script: None,
        main: include_str!("../../../../assets/demo/index.html"),
    },
    Page {
        path: "/classifier",
        title: "2-D classifier",
        script: Some("/static/classifier.js"),
        main: include_str!("../../../../assets/demo/classifier.html"),
    },
    Page {
        path: "/digit",
        title: "Draw a digit",
        script: Some("/static/digit.js"),
        main: include_str!("../../../../assets/demo/digit.html"),
    },
    Page {
        path: "/explain",
        title: "Gradient step by step",
        script: Some("/static/explain.js"),
        main: include_str!("../../../../assets/demo/explain.html"),
    },
];

/// The frame of every page: head, site header and navigation around `{main}`.
const LAYOUT: &str = include_str!("../../../../assets/demo/page.html");

/// The scripts, styles and icon: path, type, content.
const ASSETS: &[(&str, &str, &str)] = &[
    ("/static/demo.css", CSS, include_str!("../../../../assets/demo/demo.css")),
    ("/static/common.js", JS, include_str!("../../../../assets/demo/common.js")),
    ("/static/classifier.js", JS, include_str!("../../../../assets/demo/classifier.js")),
    ("/static/digit.js", JS, include_str!("../../../../assets/demo/digit.js")),
    ("/static/explain.js", JS, include_str!("../../../../assets/demo/explain.js")),
    ("/static/favicon.svg", SVG, include_str!("../../../../assets/demo/favicon.svg")),
];

/// `page` in [`LAYOUT`], its own link in the navigation marked as the current page.
fn render(page: &Page) -> String {
    let nav: Vec<String> = PAGES[1..]
        .iter()
        .map(|other| {
            let current = if other.path == page.path { r#" aria-current="page""# } else { "" };
            format!(r#"    <a href="{}"{current}>{}</a>"#, other.path, other.title)
        })
        .collect();
    let title = match page.path {
        "/" => page.title.to_string(),
        _ => format!("{} · softmax demo", page.title),
    };
    let script = page
        .script
        .map_or(String::new(), |src| format!(r#"<script type="module" src="{src}"></script>"#));
    LAYOUT
        .replace("{title}", &title)
        .replace("{script}", &script)
        .replace("{nav}", &nav.join("\n"))
        .replace("{main}", page.main.trim_end())
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream};

    use super::*;

    /// Serves the demo on a free loopback port, in a thread of its own, for the whole test run.
    fn start() -> SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let digits = DigitModel::load_or_train(None).unwrap();
        std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_io().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, router(Demo { digits })).await.unwrap();
            });
        });
        address
    }

    /// One HTTP/1.1 request; the status, the headers (lowercase) and the body.
    fn send(address: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, String, String) {
        let mut stream = TcpStream::connect(address).unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        // The server may answer a body over the limit before reading all of it.
        let _ = stream.write_all(body);
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, head.to_lowercase(), body.to_string())
    }

    fn error_of(body: &str) -> String {
        let value: Value = serde_json::from_str(body).expect("a JSON error");
        value["error"].as_str().expect("an error message").to_string()
    }

    #[test]
    fn the_server_answers_bad_requests_with_json_errors_and_keeps_serving() {
        let address = start();
        let good = classifier::preset(br#"{"name": "cs231n"}"#).unwrap().to_string();
        let (status, head, body) = send(address, "POST", "/api/loss", good.as_bytes());
        assert_eq!(status, 200, "{body}");
        assert!(head.contains("content-type: application/json"), "{head}");
        let loss = serde_json::from_str::<Value>(&body).unwrap()["loss"].as_f64().unwrap();
        assert!(loss.is_finite());

        let cases: [(&str, &str, Vec<u8>, u16, &str); 6] = [
            ("POST", "/api/loss", b"{not json".to_vec(), 400, "malformed request"),
            ("POST", "/api/loss", br#"{"weights": [[1, 2]]}"#.to_vec(), 400, "missing field"),
            (
                "POST",
                "/api/predict",
                br#"{"width": 1, "height": 1, "pixels": [0, 0]}"#.to_vec(),
                400,
                "pixels",
            ),
            ("POST", "/api/step", vec![b' '; MAX_BODY + 1], 413, "larger than 262144 bytes"),
            ("GET", "/nowhere", Vec::new(), 404, "no such page: /nowhere"),
            ("POST", "/api/explain", br#"{"weights": [[NaN]]}"#.to_vec(), 400, "malformed"),
        ];
        for (method, path, body, expected_status, needle) in cases {
            let (status, _, answer) = send(address, method, path, &body);
            assert_eq!(status, expected_status, "{method} {path}: {answer}");
            assert!(error_of(&answer).contains(needle), "{method} {path}: {answer}");
        }
        // Still serving, and still the same answer.
        let (status, _, body) = send(address, "POST", "/api/loss", good.as_bytes());
        assert_eq!(status, 200);
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["loss"].as_f64(), Some(loss));
        let (status, _, body) = send(address, "GET", "/api/model", b"");
        assert_eq!(status, 200);
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["class_names"][9], "9");
        assert_eq!(send(address, "GET", "/api/loss", b"").0, 405);
    }

    #[test]
    fn every_page_and_asset_is_served_with_its_type() {
        let address = start();
        let pages = PAGES.iter().map(|page| (page.path, HTML, render(page)));
        let assets = ASSETS.iter().map(|&(path, kind, content)| (path, kind, content.to_string()));
        for (path, content_type, content) in pages.chain(assets) {
            let (status, head, body) = send(address, "GET", path, b"");
            assert_eq!(status, 200, "{path}");
            assert!(head.contains(&format!("content-type: {content_type}")), "{path}: {head}");
            assert!(head.contains("content-security-policy: default-src 'self'"), "{path}");
            assert!(!content.is_empty() && body == content, "{path}");
        }
    }

    #[test]
    fn pages_share_the_layout_and_load_only_scripts_this_server_has() {
        for page in PAGES {
            let html = render(page);
            assert!(!html.contains("{main}") && !html.contains("{nav}"), "{}", page.path);
            assert!(html.contains(r#"href="/static/demo.css""#), "{}", page.path);
            assert!(html.contains(page.main.trim_end()), "{}", page.path);
            // Every other page is linked, and only the page itself is marked current.
            for other in &PAGES[1..] {
                let current = other.path == page.path;
                let link = format!(
                    r#"<a href="{}"{}>"#,
                    other.path,
                    if current { r#" aria-current="page""# } else { "" }
                );
                assert!(html.contains(&link), "{} lacks {link}", page.path);
            }
            for script in html.split(r#"src=""#).skip(1) {
                let source = script.split('"').next().unwrap();
                assert!(
                    ASSETS.iter().any(|(p, _, _)| *p == source),
                    "{} loads {source}",
                    page.path
                );
            }
        }
        assert!(render(&PAGES[2]).contains("<title>Draw a digit · softmax demo</title>"));
    }
}
