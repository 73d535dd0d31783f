//! A minimal blocking HTTP/1.1 client for the server tests that need a real socket (`albert serve` as a process,
//! clients that disconnect): one request per connection (`Connection: close`), JSON bodies.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// An answer: its status, headers (names lowercased) and body.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Each header as (lowercased name, value).
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Response {
    /// The value of header `name` (lowercase), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The bytes of a request of `method` to `path` with a JSON `body` (none when empty) and extra `headers`.
pub fn request_bytes(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    if !body.is_empty() {
        head.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    [head.into_bytes(), body.as_bytes().to_vec()].concat()
}

/// Sends one request to `addr` and reads the whole answer (60 s at most).
pub fn send(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    stream.write_all(&request_bytes(method, path, headers, body))?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse(&raw)
}

/// `GET path`.
pub fn get(addr: SocketAddr, path: &str) -> std::io::Result<Response> {
    send(addr, "GET", path, &[], "")
}

/// `POST path` with a JSON body.
pub fn post(addr: SocketAddr, path: &str, body: &str) -> std::io::Result<Response> {
    send(addr, "POST", path, &[], body)
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string())
}

/// Parses a whole HTTP/1.1 answer.
pub fn parse(raw: &[u8]) -> std::io::Result<Response> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| bad("no end of headers"))?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| bad("headers are not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    if headers.iter().any(|(n, v)| n == "transfer-encoding" && v.contains("chunked")) {
        body = dechunk(&body)?;
    }
    Ok(Response { status, headers, body })
}

fn dechunk(mut raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line = raw.windows(2).position(|w| w == b"\r\n").ok_or_else(|| bad("no chunk size"))?;
        let size = std::str::from_utf8(&raw[..line]).ok().and_then(|s| usize::from_str_radix(s.trim(), 16).ok());
        let size = size.ok_or_else(|| bad("bad chunk size"))?;
        if size == 0 {
            return Ok(out);
        }
        let data = raw.get(line + 2..line + 2 + size).ok_or_else(|| bad("short chunk"))?;
        out.extend_from_slice(data);
        raw = raw.get(line + 4 + size..).ok_or_else(|| bad("short chunk"))?;
    }
}

/// The sum of the Prometheus samples of `series` in `text`: a metric name (every series of it), or a name with its
/// first labels as written, unclosed (`te_queue_size{model="m"`: every series with those labels first) or closed;
/// 0 when absent.
pub fn metric(text: &str, series: &str) -> f64 {
    let matches = |name: &str| match name.strip_prefix(series) {
        None => false,
        Some(rest) if series.contains('{') => rest.is_empty() || rest.starts_with(',') || rest.starts_with('}'),
        Some(rest) => rest.is_empty() || rest.starts_with('{'),
    };
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter(|(name, _)| matches(name))
        .filter_map(|(_, v)| v.parse::<f64>().ok())
        .sum()
}
