//! `albert serve` as a process on an ephemeral loopback port: each route family answers over HTTP what the matching
//! CLI command prints with `--json` for the same input, and the server exits 0 on SIGTERM.

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

/// `albert serve --port 0 ARGS...` started; the process and the address it listens on.
fn start(args: &[&str]) -> (std::process::Child, String) {
    let mut server = Command::new(env!("CARGO_BIN_EXE_albert"))
        .args(["serve", "--port", "0"])
        .args(args)
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
    // The rest of the log is read (and dropped) so that the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (server, addr)
}

/// What `albert ARGS... --json` prints: one JSON value per line.
fn cli_json(args: &[&str]) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_albert")).args(args).arg("--json").output().unwrap();
    assert!(out.status.success(), "albert {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// `a` and `b` hold the same JSON up to 1e-5 in each number (the CLI runs inputs in batches, padded; the server runs
/// a request's inputs alone here).
fn assert_close(a: &Value, b: &Value, at: &str) {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!((x - y).abs() <= 1e-5, "{at}: {x} vs {y}");
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}: {a} vs {b}");
            x.iter().zip(y).enumerate().for_each(|(i, (x, y))| assert_close(x, y, &format!("{at}[{i}]")));
        }
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(x.keys().collect::<Vec<_>>(), y.keys().collect::<Vec<_>>(), "{at}");
            x.iter().for_each(|(k, v)| assert_close(v, &y[k], &format!("{at}.{k}")));
        }
        _ => assert_eq!(a, b, "{at}"),
    }
}

/// On the built-in models: /embed and `albert embed`, /similarity and `albert similarity`, /fill-mask and
/// `albert fill-mask`, /qa and `albert qa` (top 3 with the empty answer, over windows), /ner and `albert ner`.
/// (/predict and `albert classify`: the test below.)
#[cfg(unix)]
#[test]
fn each_route_answers_what_its_cli_command_prints() {
    let (mut server, addr) = start(&[]);
    let ok = |path: &str, body: Value| {
        let (status, answer) = request(&addr, "POST", path, &body);
        assert_eq!(status, "HTTP/1.1 200 OK", "{path}: {answer}");
        answer
    };
    let text = "A warm, funny and moving film about Paris.";

    let printed = cli_json(&["embed", text]);
    assert_close(&ok("/embed", json!({"inputs": text, "normalize": false}))[0], &printed[0]["vector"], "/embed");
    let printed = cli_json(&["similarity", text, "A dull film."]);
    let answer = ok("/similarity", json!({"inputs": {"source_sentence": text, "sentences": ["A dull film."]}}));
    assert_close(&answer[0], &printed[0]["cosine"], "/similarity");

    let masked = "The capital of France is [MASK].";
    let printed = cli_json(&["fill-mask", "--top-k", "3", masked]);
    assert_close(&ok("/fill-mask", json!({"inputs": masked, "top_k": 3}))["masks"], &printed[0]["masks"], "/fill-mask");

    let (question, context) = ("Where does Anna live?", "Anna lives in Berlin and works in Potsdam as a teacher. ".repeat(4));
    let printed = cli_json(&["qa", "--top-k", "3", "--handle-impossible-answer", "--max-length", "32", "--stride", "8",
        "--context", &context, "--question", question]);
    let body = json!({"question": question, "context": context, "top_k": 3, "handle_impossible_answer": true,
        "max_seq_len": 32, "doc_stride": 8});
    let answers = ok("/qa", body);
    assert!(answers[0]["windows"].as_u64().unwrap() > 1, "{answers}");
    assert_close(&answers, &printed[0]["answers"], "/qa");

    let sentence = "Angela Merkel visited Paris with Emmanuel Macron.";
    let printed = cli_json(&["ner", sentence]);
    assert_close(&ok("/ner", json!({"inputs": sentence}))["entities"], &printed[0]["entities"], "/ner");

    let kill = Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap();
    assert!(kill.success());
    assert!(server.wait().unwrap().success());
}

#[cfg(unix)]
#[test]
fn serve_answers_as_the_cli_and_stops_on_sigterm() {
    let root = env!("CARGO_MANIFEST_DIR");
    let model = format!("{root}/../../models/albert-small-sst2");
    let (mut server, addr) = start(&["--model", &format!("sst2={model}")]);

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
