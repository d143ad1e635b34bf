//! Driving a terminal program as a person would: a private tmux server
//! (its own socket, so tests never touch a user's sessions), a shell in a
//! window of a chosen size, keys sent with `send-keys`, the screen read
//! with `capture-pane`.
//!
//! Without tmux these tests are skipped with a note, except under CI
//! (`CI` set), where a missing tmux fails them: CI installs it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::process::{Child, Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long to wait for the screen to show something.
pub const WAIT: Duration = Duration::from_secs(15);

pub struct Tmux {
    socket: String,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Whether tmux can run here. `None`: skip (with a note on stderr);
/// panics under CI, where tmux must be installed.
pub fn available(test: &str) -> Option<()> {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(());
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: tmux is not installed; CI must install it (.ci/run does)"
    );
    eprintln!("{test}: skipped: tmux is not installed");
    None
}

impl Tmux {
    /// A shell (`bash --norc`, prompt `$ `) in a `width`×`height` window.
    pub fn shell(width: u16, height: u16) -> Self {
        let socket = format!(
            "nvitop-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let tmux = Self { socket };
        tmux.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            "env",
            "PS1=$ ",
            "TERM=xterm-256color",
            "bash",
            "--norc",
            "--noprofile",
        ]);
        // Keep the window the size asked for whatever clients attach.
        tmux.run(&["set-option", "-g", "window-size", "manual"]);
        tmux.wait_for("the shell prompt", |s| s.lines().any(|l| l.trim_end() == "$"));
        tmux
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Types `line` and Enter.
    pub fn type_line(&self, line: &str) {
        self.run(&["send-keys", "-t", "t", "-l", line]);
        self.run(&["send-keys", "-t", "t", "Enter"]);
    }

    /// Sends tmux key names (`Down`, `q`, `C-c`, `Enter`).
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// Sends `text` literally.
    pub fn text(&self, text: &str) {
        self.run(&["send-keys", "-t", "t", "-l", text]);
    }

    /// The screen as text.
    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "t"]).stdout).into_owned()
    }

    /// The screen with its colors and attributes as escape sequences.
    pub fn screen_styled(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-e", "-t", "t"]).stdout).into_owned()
    }

    /// A tmux format of the pane (`#{alternate_on}`, `#{cursor_flag}`).
    pub fn format(&self, format: &str) -> String {
        let out = self.run(&["display-message", "-p", "-t", "t", format]);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    pub fn resize(&self, width: u16, height: u16) {
        self.run(&[
            "resize-window",
            "-t",
            "t",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
        ]);
    }

    /// Polls the screen until `ready` holds; panics with the screen after
    /// [`WAIT`].
    pub fn wait_for(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        self.wait_for_in(what, WAIT, ready)
    }

    pub fn wait_for_in(&self, what: &str, wait: Duration, ready: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < wait,
                "waited {wait:?} for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Polls the styled screen until `ready` holds.
    pub fn wait_for_styled(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen_styled();
            if ready(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < WAIT,
                "waited {WAIT:?} for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

/// Three sleeping children and a scenario that puts them on two GPUs: the
/// first two on GPU 0 (an H100), the third on GPU 1 (an A100). Each child
/// sleeps `base + i` seconds (so `ps` tells the tests' children apart) with
/// `env` (`NAME=value`) in its environment when given; all are killed on
/// drop.
pub struct Machine {
    pub children: Vec<Child>,
    scenario: tempfile::NamedTempFile,
}

impl Machine {
    pub fn spawn(base: u32, env: Option<&str>) -> Self {
        let children: Vec<Child> = (1..=3)
            .map(|i| {
                let mut sleep = Command::new("sleep");
                sleep.arg(format!("{}", base + i));
                if let Some((name, value)) = env.and_then(|e| e.split_once('=')) {
                    sleep.env(name, value);
                }
                sleep.spawn().unwrap()
            })
            .collect();
        let pid = |i: usize| children[i].id();
        let text = format!(
            "driver_version = \"560.35.03\"\ncuda_driver_version = \"12.6\"\n\n\
             [[gpus]]\nmodel = \"H100-SXM5-80GB\"\n\
             processes = [{{ pid = {}, memory_mib = 4096 }}, {{ pid = {}, memory_mib = 1024 }}]\n\n\
             [[gpus]]\nmodel = \"A100-SXM4-80GB\"\n\
             processes = [{{ pid = {}, memory_mib = 2048 }}]\n",
            pid(0),
            pid(1),
            pid(2)
        );
        let mut scenario = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        std::io::Write::write_all(&mut scenario, text.as_bytes()).unwrap();
        Self { children, scenario }
    }

    pub fn pid(&self, i: usize) -> u32 {
        self.children[i].id()
    }

    pub fn scenario(&self) -> &Path {
        self.scenario.path()
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The line of the process table that shows `pid`, if any
/// (`│ GPU PID ...`: the pid is the third word).
pub fn row_of(screen: &str, pid: u32) -> Option<&str> {
    let pid = pid.to_string();
    screen
        .lines()
        .find(|l| l.split_whitespace().nth(2) == Some(pid.as_str()))
}
