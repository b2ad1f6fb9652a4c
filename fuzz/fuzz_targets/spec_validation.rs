#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| qserv_fuzz::spec_validation(data));
