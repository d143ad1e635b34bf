//! A stand-in training loop with the inline panel: log lines scroll above,
//! the GPUs and the step rate stay at the bottom of the terminal. Without a
//! terminal on stdout it prints the log lines only.
//!
//! ```text
//! NVITOP_SIMULATE=1 cargo run -p nvitop-monitor --example inline_panel -- 40 50 5
//! ```
//! Arguments: total steps (default 40), milliseconds per step (50), a log
//! line every N steps (5).

use std::time::Duration;

use nvitop::Device;
use nvitop_monitor::inline_panel::{InlinePanel, PanelOptions};

fn arg(n: usize, default: u64) -> anyhow::Result<u64> {
    match std::env::args().nth(n) {
        Some(text) => text
            .parse()
            .map_err(|_| anyhow::anyhow!("argument {n} must be a whole number, got '{text}'")),
        None => Ok(default),
    }
}

fn main() -> anyhow::Result<()> {
    let total = arg(1, 40)?;
    let step_time = Duration::from_millis(arg(2, 50)?);
    let log_every = arg(3, 5)?.max(1);
    let devices = Device::all()?;
    let options = PanelOptions {
        total_steps: Some(total),
        ..PanelOptions::default()
    };
    let panel = InlinePanel::stdout(devices, options)?;
    for step in 1..=total {
        std::thread::sleep(step_time);
        if let Some(panel) = &panel {
            panel.set_step(step);
        }
        if step % log_every == 0 {
            let line = format!("log line {step}: loss {:.4}", 1.0 / step as f64);
            match &panel {
                Some(panel) => panel.println(&line)?,
                None => println!("{line}"),
            }
        }
    }
    if let Some(panel) = panel {
        panel.finish()?;
    }
    println!("training done");
    Ok(())
}
