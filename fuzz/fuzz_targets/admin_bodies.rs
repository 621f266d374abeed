//! Every admin API JSON body parser, and the client merge-patch path
//! (`tessera::admin::parse_every_body`). Input: the raw body.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tessera::admin::parse_every_body(data);
});
