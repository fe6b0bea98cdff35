//! Program conversion, proto -> domain: any bytes a caller sends as a
//! program never panic the validator; a program it accepts renders to a
//! request it accepts again, as the same program (no drift between what is
//! stored and what is shown).
#![no_main]

use accrual_svc::grpc::program::{program, to_program};
use boomerang_proto::accrual::v1 as pb;
use libfuzzer_sys::fuzz_target;
use prost::Message as _;

fuzz_target!(|data: &[u8]| {
    let Ok(wire) = pb::Program::decode(data) else {
        return;
    };
    let Ok((id, accepted)) = program(Some(&wire)) else {
        return;
    };
    let shown = to_program(&id, 1, 0, &accepted);
    match program(Some(&shown)) {
        Ok(again) => assert_eq!(again, (id, accepted)),
        Err(e) => panic!("a program accrual shows is refused: {e}"),
    }
});
