//! Test doubles shared by the SDK's integration tests.

use std::time::Duration;

use nvitop::sink::{LogRecord, Sink, SinkError};

/// A sink that sleeps `.0` for each row it writes, so the logger's channel fills.
pub struct SlowSink(pub Duration);

impl Sink for SlowSink {
    fn start(&mut self, _keys: &[String]) -> Result<(), SinkError> {
        Ok(())
    }
    fn write(&mut self, _record: &LogRecord<'_>) -> Result<(), SinkError> {
        std::thread::sleep(self.0);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
    fn describe(&self) -> String {
        format!("slow ({:?} a row)", self.0)
    }
}
