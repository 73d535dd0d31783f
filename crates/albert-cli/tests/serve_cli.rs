//! `albert serve` as a process on an ephemeral loopback port: it answers over HTTP what `albert classify --json`
//! prints for the same text, and exits 0 on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

/// One HTTP/1.1 request on its own connection; the status line and the JSON body.
fn request(addr: &str, method: &str, path: &str, body: &Value) -> (String, Value) {
    let body = body.to_string();
    let mut stream = TcpStream::connect(addr).expect("connect to the server");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("a header and a body");
    let status = head.lines().next().unwrap().to_string();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[cfg(unix)]
#[test]
fn serve_answers_as_the_cli_and_stops_on_sigterm() {
    let root = env!("CARGO_MANIFEST_DIR");
    let model = format!("{root}/../../models/albert-small-sst2");
    let mut server = Command::new(env!("CARGO_BIN_EXE_albert"))
        .args(["serve", "--port", "0", "--model", &format!("sst2={model}")])
        .stderr(Stdio::piped())
        .spawn()
        .expect("start albert serve");
    let mut lines = BufReader::new(server.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("the server printed its address").unwrap();
        if let Some(rest) = line.strip_prefix("listening on http://") {
            break rest.to_string();
        }
    };

    let text = "A warm, funny and moving film.";
    let (status, predictions) = request(&addr, "POST", "/predict", &json!({"inputs": text, "model": "sst2"}));
    let cli = Command::new(env!("CARGO_BIN_EXE_albert")).args(["classify", "--json", "--model", &model, text]).output().unwrap();
    assert!(cli.status.success());
    let printed: Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert_eq!(status, "HTTP/1.1 200 OK");
    // The server writes f32 scores in their shortest form, the CLI as f64: the same f32 either way.
    let labels = |v: &Value| -> Vec<(String, f32)> {
        v.as_array().unwrap().iter().map(|l| (l["label"].as_str().unwrap().into(), l["score"].as_f64().unwrap() as f32)).collect()
    };
    assert_eq!(labels(&predictions), labels(&printed["labels"]));
    let (status, body) = request(&addr, "POST", "/predict", &json!({"inputs": text, "model": "other"}));
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    assert_eq!(body["error_type"], "Validation");

    let kill = Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap();
    assert!(kill.success());
    assert!(server.wait().unwrap().success(), "albert serve exits 0 on SIGTERM");
}
