//! Helpers shared by the benchmarks.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};

/// Real host processes for the simulated GPUs to run: a quiet CI machine has
/// far fewer than 512 processes, and `host:N` pids would wrap around.
pub struct Sleepers(Vec<Child>);

impl Sleepers {
    pub fn spawn(n: usize) -> Self {
        Self(
            (0..n)
                .map(|_| {
                    Command::new("sleep")
                        .arg("600")
                        .stdin(Stdio::null())
                        .spawn()
                        .expect("spawn sleep")
                })
                .collect(),
        )
    }

    pub fn pids(&self) -> Vec<u32> {
        self.0.iter().map(Child::id).collect()
    }
}

impl Drop for Sleepers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
