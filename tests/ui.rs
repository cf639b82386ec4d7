//! Compile-fail tests: misuse of `#[task]` gets a clear message.

#[test]
fn task_attribute_misuse() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
