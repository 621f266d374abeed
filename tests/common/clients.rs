//! Third-party OAuth clients for the tests of client authentication without secrets: Node.js
//! `openid-client` (tests/clients/package.json) and Python Authlib
//! (tests/clients/requirements.txt), each installed once per test process, and run as
//! scripts in tests/clients/ that print one JSON line.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Once;

use serde_json::Value;

/// tests/clients.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

/// Installs openid-client and undici (npm ci) once per test process.
fn node_ready() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let installed = ["openid-client", "undici"]
            .iter()
            .all(|p| dir().join("node_modules").join(p).is_dir());
        if !installed {
            let ok = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(dir())
                .status()
                .expect("npm (Node.js) is needed for the third-party client tests");
            assert!(ok.success(), "npm ci in tests/clients failed");
        }
    });
}

/// The venv's Python, with the pinned requirements, made once per test process (and again
/// only when requirements.txt changes).
fn python() -> PathBuf {
    static INSTALL: Once = Once::new();
    let venv = dir().join(".venv");
    INSTALL.call_once(|| {
        let wanted = std::fs::read(dir().join("requirements.txt")).expect("requirements.txt");
        let stamp = venv.join("installed-requirements.txt");
        if std::fs::read(&stamp).ok().as_deref() == Some(&wanted[..]) {
            return;
        }
        let _ = std::fs::remove_dir_all(&venv);
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 (with venv) is needed for the third-party client tests");
        assert!(
            ok.success(),
            "python3 -m venv failed (apt-get install python3-venv)"
        );
        let ok = Command::new(venv.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "-q",
                "-r",
            ])
            .arg(dir().join("requirements.txt"))
            .status()
            .expect("pip");
        assert!(
            ok.success(),
            "pip install -r tests/clients/requirements.txt failed"
        );
        std::fs::write(&stamp, wanted).expect("stamp");
    });
    venv.join("bin/python")
}

/// Runs `node tests/clients/SCRIPT ARGS…` and parses the last line it prints as JSON; panics
/// with its output if it fails.
pub fn node(script: &str, args: &[&str]) -> Value {
    node_ready();
    run(Command::new("node").arg(script).args(args))
}

/// Runs `python tests/clients/SCRIPT ARGS…` in the venv, like [`node`].
pub fn python_script(script: &str, args: &[&str]) -> Value {
    let python = python();
    run(Command::new(python).arg(script).args(args))
}

fn run(cmd: &mut Command) -> Value {
    let out = cmd
        .current_dir(dir())
        .output()
        .expect("run a client script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last)
        .unwrap_or_else(|_| panic!("{cmd:?} printed no JSON line:\n{stdout}\n{stderr}"))
}
