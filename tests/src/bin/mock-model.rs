//! The mock model server on its own (`mock-model [PORT_FILE]`): prints its URL (and writes the
//! port to PORT_FILE), then one JSON line per request it answers. For trying a real agent CLI by
//! hand and for the benchmarks.

use maestro_tests::mock_model::MockModel;
use std::time::Duration;

fn main() {
    let mock = MockModel::start();
    println!("{}", mock.url());
    if let Some(file) = std::env::args().nth(1) {
        std::fs::write(&file, mock.port.to_string()).expect("writing the port file");
    }
    let mut seen = 0;
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let served = mock.served();
        for s in &served[seen..] {
            let line = serde_json::json!({"api": s.api, "path": s.path, "model": s.model,
                "answer": s.answer, "prompt": s.prompt, "body": s.body});
            println!("{line}");
        }
        seen = served.len();
    }
}
