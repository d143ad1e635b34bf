//! Snapshot tests of the rendered main screen from fixed snapshots.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use nvitop_monitor::theme::Glyphs;

fn ascii() -> nvitop_monitor::RenderOptions {
    nvitop_monitor::RenderOptions {
        glyphs: Glyphs::Ascii,
        ..common::options()
    }
}

#[test]
fn machine_79() {
    insta::assert_snapshot!(common::plain(&common::machine(), &common::options(), 79));
}

#[test]
fn machine_120() {
    insta::assert_snapshot!(common::plain(&common::machine(), &common::options(), 120));
}

#[test]
fn machine_160() {
    insta::assert_snapshot!(common::plain(&common::machine(), &common::options(), 160));
}

#[test]
fn machine_ascii_79() {
    insta::assert_snapshot!(common::plain(&common::machine(), &ascii(), 79));
}

#[test]
fn machine_ascii_120() {
    insta::assert_snapshot!(common::plain(&common::machine(), &ascii(), 120));
}

#[test]
fn idle_79() {
    insta::assert_snapshot!(common::plain(&common::idle_machine(), &common::options(), 79));
}

#[test]
fn idle_160() {
    insta::assert_snapshot!(common::plain(&common::idle_machine(), &common::options(), 160));
}

#[test]
fn faults_79() {
    insta::assert_snapshot!(common::plain(&common::faults(), &common::options(), 79));
}

#[test]
fn faults_120() {
    insta::assert_snapshot!(common::plain(&common::faults(), &common::options(), 120));
}

#[test]
fn faults_ascii_160() {
    insta::assert_snapshot!(common::plain(&common::faults(), &ascii(), 160));
}

#[test]
fn long_command_is_cut_not_wrapped() {
    let snapshot = common::with_long_command(common::machine(), 400);
    for width in [79_u16, 120, 160] {
        let text = common::plain(&snapshot, &common::options(), width);
        for line in text.lines() {
            assert!(
                nvitop_monitor::text::width(line) <= usize::from(width),
                "line wider than {width}: {line}"
            );
        }
        let row = text.lines().find(|l| l.contains("60001")).unwrap();
        assert!(row.ends_with("… │"), "{row}");
    }
    insta::assert_snapshot!(common::plain(&snapshot, &common::options(), 79));
}
